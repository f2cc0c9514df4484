import { describe, expect, it } from 'vitest';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import { insideWindow } from '../../core/auto-decision.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const OFFICE = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as ('mon' | 'tue' | 'wed' | 'thu' | 'fri')[], from: '09:00', to: '18:00', timeZone: 'Europe/Berlin' };
const NIGHT = { days: ['fri'] as 'fri'[], from: '22:00', to: '06:00', timeZone: 'America/New_York' };

describe('time windows in a named time zone', () => {
  it('holds on weekdays within the hours, in the zone, across daylight saving time', () => {
    expect(insideWindow(OFFICE, Date.parse('2026-12-02T08:30:00Z'))).toBe(true); // Wed 09:30 CET
    expect(insideWindow(OFFICE, Date.parse('2026-12-02T07:30:00Z'))).toBe(false); // Wed 08:30 CET
    expect(insideWindow(OFFICE, Date.parse('2026-12-02T17:00:00Z'))).toBe(false); // Wed 18:00 CET: the end is outside
    // The same UTC instant is inside in winter (17:30 CET) and outside in summer (18:30 CEST).
    expect(insideWindow(OFFICE, Date.parse('2026-12-02T16:30:00Z'))).toBe(true);
    expect(insideWindow(OFFICE, Date.parse('2026-07-01T16:30:00Z'))).toBe(false);
    expect(insideWindow(OFFICE, Date.parse('2026-12-05T10:00:00Z'))).toBe(false); // Saturday
  });

  it('runs past midnight into the next day for the day it opened', () => {
    expect(insideWindow(NIGHT, Date.parse('2026-12-05T04:00:00Z'))).toBe(true); // Fri 23:00 EST
    expect(insideWindow(NIGHT, Date.parse('2026-12-05T10:00:00Z'))).toBe(true); // Sat 05:00 EST, opened Friday
    expect(insideWindow(NIGHT, Date.parse('2026-12-05T12:00:00Z'))).toBe(false); // Sat 07:00 EST
    expect(insideWindow(NIGHT, Date.parse('2026-12-06T04:00:00Z'))).toBe(false); // Sat 23:00 EST: Saturday is not listed
  });
});

describe('automatic decision rules in the config', () => {
  const config = (...rule: string[]) => yaml(
    'version: 1',
    'integrations:',
    '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
    'flows:',
    '  - name: prod-read',
    '    requesters: [alice@example.com]',
    '    access: [{ integration: orders, resources: any, permissions: [read] }]',
    '    approval: { steps: [{ approvers: [lead@example.com] }] }',
    '    duration: { default: 1h, max: 4h }',
    'autoDecisions:',
    ...rule,
  );
  const report = (text: string): string => {
    const result = parseConfig(text, 'latch.yaml');
    if (result.ok) throw new Error('expected the config to be refused');
    return formatConfigErrors(result.errors);
  };

  it('accepts a rule with every condition', () => {
    const result = parseConfig(config(
      '  - name: office reads',
      '    decision: approve',
      '    when: { flows: [prod-read], requesters: [alice@example.com], integrations: [orders], resources: [db], permissions: [read], maxDuration: 2h,',
      '            window: { from: "09:00", to: "18:00", timeZone: Europe/Berlin } }',
    ), 'latch.yaml');
    if (!result.ok) throw new Error(formatConfigErrors(result.errors));
    expect(result.config.autoDecisions[0]?.when.window).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00', timeZone: 'Europe/Berlin' });
  });

  it('names an unknown time zone, a bad clock, a deny without reason and names that point nowhere', () => {
    expect(report(config(
      '  - name: nights',
      '    decision: deny',
      '    when:',
      '      window: { from: "22:00", to: "6am", timeZone: Mars/Olympus }',    // line 14
    ))).toBe([
      'latch.yaml:14:32 autoDecisions[0].when.window.to: write a time of day like 09:00 or 18:30',
      'latch.yaml:14:43 autoDecisions[0].when.window.timeZone: "Mars/Olympus" is not a time zone; use an IANA name such as Europe/Berlin or UTC',
    ].join('\n'));
    expect(report(config(
      '  - name: nights',
      '    decision: deny',                                                     // line 12
      '    when: { flows: [prod-write], permissions: [write] }',               // line 13
    ))).toBe([
      'latch.yaml:12:5 autoDecisions[0].decision: a deny rule needs a reason: it is what the requester is told',
      'latch.yaml:13:21 autoDecisions[0].when.flows[0]: flow "prod-write" is not declared under flows',
      'latch.yaml:13:48 autoDecisions[0].when.permissions[0]: no resource offers permission "write"',
    ].join('\n'));
  });
});
