import { describe, expect, it } from 'vitest';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import { offeredItems } from '../../core/policy.js';

// The rdsDiscovery key: its shape is checked with line numbers like the rest of the file,
// and flows may name a block, checked against the block's template, before any instance
// has been found.

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function report(text: string): string {
  const result = parseConfig(text, 'latch.yaml');
  if (result.ok) throw new Error('expected the config to be refused, but it was accepted');
  return formatConfigErrors(result.errors);
}

const block = (...extra: string[]): string[] => [
  'rdsDiscovery:',
  '  - name: rds',
  '    connectorId: eu-prod',
  '    regions: [eu-west-1]',
  '    owner: group:dba',
  '    connection: { roleArn: "arn:aws:iam::123456789012:role/latch-rds-connect", user: latch_connector }',
  '    resources:',
  '      - name: app',
  '        settings: { databases: [orders] }',
  '        permissions: { read: { roles: [app_readonly] } }',
  ...extra,
];

const flow = (permission: string): string[] => [
  'flows:',
  '  - name: rds-read',
  '    requesters: [alice@example.com]',
  '    access: [{ integration: rds, resources: any, permissions: [' + permission + '] }]',
  '    approval: { autoApprove: true }',
  '    duration: { default: 1h, max: 4h }',
];

describe('rdsDiscovery in the config', () => {
  it('fills in the interval and keeps the template as written, and a flow may name the block before anything is found', () => {
    const result = parseConfig(yaml('version: 1', 'groups: [{ name: dba, members: [lead@example.com] }]', ...block(), ...flow('read')), 'latch.yaml');
    if (!result.ok) throw new Error(formatConfigErrors(result.errors));
    const [discovery] = result.config.rdsDiscovery;
    expect(discovery).toMatchObject({ name: 'rds', interval: 15 * 60_000, labels: [], owner: 'group:dba' });
    expect(discovery?.resources).toEqual([{ name: 'app', settings: { databases: ['orders'] }, permissions: { read: { roles: ['app_readonly'] } } }]);
    // Nothing discovered yet: the flow offers nothing, and is not a config error.
    expect(offeredItems(result.config, result.config.flows[0] ?? { access: [] })).toEqual([]);
  });

  it('refuses an interval under a minute and the instance\'s own keys in the template', () => {
    expect(report(yaml('version: 1', 'groups: [{ name: dba, members: [lead@example.com] }]', ...block('    interval: 30s'), '    tagKeys: { connectorId: [team-connector] }').replace(
      'user: latch_connector }', 'user: latch_connector, instanceId: orders-prod }',
    ))).toBe([
      'latch.yaml:8:103 rdsDiscovery[0].connection.instanceId: instanceId comes from each instance (its identifier and tags), not from the template',
      'latch.yaml:13:5 rdsDiscovery[0].interval: must be at least 1m: every pass lists every instance of every region',
    ].join('\n'));
  });

  it('checks the template\'s resources as resources', () => {
    expect(report(yaml('version: 1', 'groups: [{ name: dba, members: [lead@example.com] }]', ...block().map((line) => line.replace('permissions: { read: { roles: [app_readonly] } }', 'permissions: []'))))).toContain(
      'rdsDiscovery[0].resources[0].permissions',
    );
  });

  it('checks what a flow asks of a block against its template, and an owner group that does not exist', () => {
    expect(report(yaml('version: 1', ...block(), ...flow('write')))).toBe([
      'latch.yaml:6:5 rdsDiscovery[0].owner: group "dba" is not declared under groups',
      'latch.yaml:15:64 flows[0].access[0].permissions[0]: no resource of integration "rds" offers permission "write"',
    ].join('\n'));
  });

  it('refuses a block named like an integration', () => {
    expect(report(yaml(
      'version: 1',
      'groups: [{ name: dba, members: [lead@example.com] }]',
      'integrations:',
      '  - { name: rds, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      ...block(),
    ))).toContain('rdsDiscovery[0].name: "rds" is also an integration\'s name; flows name either, so they must differ');
  });
});
