import { describe, expect, it } from 'vitest';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import type { LatchConfig } from '../../config/schema.js';
import { notifyPlan } from '../../core/routing.js';

// Fixtures are written out in full, with the line of the mistake noted beside it: the
// report must point exactly there, as for every other key of the config.

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function report(text: string): string {
  const result = parseConfig(text, 'latch.yaml');
  if (result.ok) throw new Error('expected the config to be refused, but it was accepted');
  return formatConfigErrors(result.errors);
}

function accepted(text: string): LatchConfig {
  const result = parseConfig(text, 'latch.yaml');
  if (!result.ok) throw new Error(formatConfigErrors(result.errors));
  return result.config;
}

/** An integration with levelled permissions and a flow that offers all of it, with a channel. */
const BASE = [
  'version: 1',
  'integrations:',
  '  - name: orders',
  '    type: postgresql',
  '    owner: lead@example.com',
  '    maxLevel: admin',
  '    resources:',
  '      - { name: prod, labels: [production], permissions: { read: { level: read }, owner: { level: admin } } }',
  '      - { name: staging, labels: [staging], permissions: { read: { level: read }, write: { level: write } } }',
  'bundles:',
  '  - { name: incident, items: [{ integration: orders, resource: staging, permission: read }, { integration: orders, resource: prod, permission: owner }] }',
  'flows:',
  '  - name: everything',
  '    requesters: [alice@example.com]',
  '    access: [{ integration: orders, resources: any, permissions: [read, write, owner] }, { bundle: incident }]',
  '    approval: { steps: [{ approvers: [lead@example.com] }] }',
  '    duration: { default: 1h, max: 4h }',
  '    notify: { channels: [{ platform: slack, id: C0ACCESS }] }',
];
const settings = (...lines: string[]): string[] => [...BASE.slice(0, 1), 'settings:', '  routing:', ...lines, ...BASE.slice(1)];

describe('notification routing in the config', () => {
  it('keeps flows[].notify as it was, with quietWhenAutomatic off unless set', () => {
    const config = accepted(yaml(...BASE));
    expect(config.flows[0]?.notify).toEqual({ approverDMs: true, channels: [{ platform: 'slack', id: 'C0ACCESS' }] });
    expect(config.settings.routing).toBeUndefined();
    expect(notifyPlan(config, config.flows[0]!, [{ integration: 'orders', resource: 'prod', permission: 'read' }]))
      .toEqual({ approverDMs: true, channels: [{ platform: 'slack', id: 'C0ACCESS' }], quietWhenAutomatic: false, rule: null });
  });

  it('takes the first matching rule, which replaces only the keys it sets', () => {
    const config = accepted(yaml(...settings(
      '    - name: admin-level',
      '      when: { levels: [admin] }',
      '      channels: [{ platform: slack, id: C0SECURITY }, { platform: teams, id: "19:sec@thread.tacv2" }]',
      '    - name: production',
      '      when: { labels: [production], flows: [everything] }',
      '      approverDMs: false',
      '    - name: staging-quiet',
      '      when: { labels: [staging] }',
      '      quietWhenAutomatic: true',
    )));
    const flow = config.flows[0]!;
    const plan = (resource: string, permission: string) => notifyPlan(config, flow, [{ integration: 'orders', resource, permission }]);
    expect(plan('prod', 'owner')).toEqual({ approverDMs: true, channels: [{ platform: 'slack', id: 'C0SECURITY' }, { platform: 'teams', id: '19:sec@thread.tacv2' }], quietWhenAutomatic: false, rule: 'admin-level' });
    expect(plan('prod', 'read')).toEqual({ approverDMs: false, channels: [{ platform: 'slack', id: 'C0ACCESS' }], quietWhenAutomatic: false, rule: 'production' });
    expect(plan('staging', 'write')).toEqual({ approverDMs: true, channels: [{ platform: 'slack', id: 'C0ACCESS' }], quietWhenAutomatic: true, rule: 'staging-quiet' });
    // A bundle is routed by its most telling item: one admin-level item is enough.
    const bundle = config.bundles[0]!.items;
    expect(notifyPlan(config, flow, bundle).rule).toBe('admin-level');
  });

  it('refuses a channel name where an id belongs, on both platforms', () => {
    expect(report(yaml(...BASE.slice(0, -1),
      '    notify: { channels: [{ platform: slack, id: "#approvals" }, { platform: teams, id: approvals }] }', // line 18
    ))).toBe([
      'latch.yaml:18:45 flows[0].notify.channels[0].id: "#approvals" is not a Slack channel id; it looks like C0123456789 (the channel\'s details show it), not #name',
      'latch.yaml:18:84 flows[0].notify.channels[1].id: "approvals" is not a Teams channel id; it looks like 19:...@thread.tacv2 (Get link to channel shows it)',
    ].join('\n'));
  });

  it('refuses rules that point nowhere, never match, change nothing or are misspelt', () => {
    expect(report(yaml(...settings(
      '    - name: typo',
      '      when: { flows: [everythin] }',                                 // line 5
      '      approverDMs: true',
      '    - name: no-such-label',
      '      when: { labels: [prod] }',                                     // line 8
      '      channels: []',
      '    - name: nothing',                                                 // line 10
      '      when: { levels: [write] }',
      '    - name: typo',                                                    // line 12
      '      when: { resources: [prod] }',
      '      chanels: []',                                                   // line 14
    )))).toBe([
      'latch.yaml:14:7 settings.routing[3].chanels: unknown key "chanels"',
    ].join('\n'));
    expect(report(yaml(...settings(
      '    - name: typo',
      '      when: { flows: [everythin] }',                                 // line 5
      '      approverDMs: true',
      '    - name: no-such-label',
      '      when: { labels: [prod], levels: [superuser] }',                // line 8
      '      channels: []',
    )))).toBe('latch.yaml:8:40 settings.routing[1].when.levels[0]: use read, write, admin');
    expect(report(yaml(...settings(
      '    - name: typo',
      '      when: { flows: [everythin] }',                                 // line 5
      '      approverDMs: true',
      '    - name: no-such-label',
      '      when: { labels: [prod] }',                                     // line 8
      '      channels: []',
      '    - name: nothing',                                                 // line 10
      '      when: { levels: [write] }',
      '    - name: typo',                                                    // line 12
      '      when: { resources: [prod], integrations: [order] }',          // line 13
      '      quietWhenAutomatic: true',
    )))).toBe([
      'latch.yaml:5:23 settings.routing[0].when.flows[0]: flow "everythin" is not declared under flows',
      'latch.yaml:8:24 settings.routing[1].when.labels[0]: no resource has the label "prod"',
      'latch.yaml:10:7 settings.routing[2].name: the rule changes nothing: set approverDMs, channels or quietWhenAutomatic',
      'latch.yaml:12:7 settings.routing[3].name: routing rule "typo" is declared twice',
      'latch.yaml:13:49 settings.routing[3].when.integrations[0]: integration "order" is not declared under integrations',
    ].join('\n'));
  });

  it('refuses a rule on a level no permission has: it would never match', () => {
    const text = yaml(...settings(
      '    - name: admins',
      '      when: { levels: [admin] }',                                    // line 5
      '      channels: [{ platform: slack, id: C0SECURITY }]',
    )).replace('owner: { level: admin }', 'owner: { level: write }');
    expect(report(text)).toBe('latch.yaml:5:24 settings.routing[0].when.levels[0]: no permission has level admin, so this rule never matches (set level: on the permissions)');
  });

  it('refuses routing that sends approval cards nowhere: the request would wait unseen until it times out', () => {
    expect(report(yaml(...settings(
      '    - name: production',                                            // line 4
      '      when: { labels: [production] }',
      '      approverDMs: false',
      '      channels: []',
    )))).toBe('latch.yaml:4:7 settings.routing[0]: routing rule "production" sends the approval cards for read on orders/prod nowhere: approverDMs is false and no channel is named');
    expect(report(yaml(...BASE.slice(0, -1),
      '    notify: { approverDMs: false }',                                  // line 18
    ))).toBe('latch.yaml:18:5 flows[0].notify: flow "everything" sends the approval cards for read on orders/prod nowhere: approverDMs is false and no channel is named');
  });
});
