import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';

// Each fixture is written out in full, one array element per line, with the line number
// of the mistake noted beside it: the report must point exactly there. The column is that
// of the key whose value is wrong (or of the list item), so an editor jumps to it.

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** The report `latch config check` and a refused start print for this text. */
function report(text: string): string {
  const result = parseConfig(text, 'latch.yaml');
  if (result.ok) throw new Error('expected the config to be refused, but it was accepted');
  return formatConfigErrors(result.errors);
}

function reportLines(text: string): string[] {
  return report(text).split('\n');
}

describe('a config that is right', () => {
  it('accepts the example config shipped with Latch', () => {
    const result = parseConfig(readFileSync('latch.config.example.yaml', 'utf8'), 'latch.config.example.yaml');
    expect(result.ok ? [] : formatConfigErrors(result.errors).split('\n')).toEqual([]);
    if (!result.ok) return;
    expect(result.config.flows.map((flow) => flow.name)).toEqual(['staging-self-service', 'production-read', 'production-write']);
    expect(result.config.flows[2]?.duration).toEqual({ default: 30 * 60_000, max: 2 * 3_600_000 });
    expect(result.config.integrations[0]?.credentials).toEqual({ env: 'ORDERS_PG_PASSWORD' });
  });

  it('fills in the defaults a short config leaves out', () => {
    const result = parseConfig(yaml(
      'version: 1',
      'integrations:',
      '  - name: orders',
      '    type: postgresql',
      '    owner: Lead@Example.com',
      '    resources:',
      '      - { name: orders-prod, permissions: [read] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { steps: [{ approvers: [integration_owner] }] }',
      '    duration: { default: 1h, max: 4h }',
    ), 'latch.yaml');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.settings).toEqual({
      admins: [], timeZone: 'UTC', instance: 'latch', reminderInterval: 4 * 3_600_000, escalateAfter: 24 * 3_600_000,
      expiryWarning: 15 * 60_000, auditRetention: 400 * 86_400_000, grantAttempts: 5, revokeAttemptsBeforeAlert: 5,
    });
    expect(result.config.integrations[0]?.credentials).toEqual({ none: true });
    expect(result.config.integrations[0]?.owner).toEqual({ kind: 'user', email: 'lead@example.com' });
    expect(result.config.integrations[0]?.resources[0]?.permissions).toEqual({ read: {} });
    const flow = result.config.flows[0];
    expect(flow?.justification).toBe('required');
    expect(flow?.requestForOthers).toBe(false);
    expect(flow?.timeout).toBe(24 * 3_600_000);
    expect(flow?.extensions).toEqual({ allowed: true, autoApprove: false });
    expect(flow?.notify).toEqual({ approverDMs: true, channels: [] });
    expect(flow?.approval.steps[0]?.required).toBe(1);
  });
});

describe('a config with a mistake is refused with file, line and key', () => {
  it('YAML syntax error', () => {
    expect(report(yaml(
      'version: 1',
      'groups:',
      '  - name: [sre',                                    // line 3: the flow sequence is never closed
      '    members: [alice@example.com]',
    ))).toMatch(/^latch\.yaml:4:\d+ YAML syntax: .*end with a \]/);
  });

  it('the same key twice', () => {
    expect(report(yaml(
      'version: 1',
      'settings:',
      '  instance: latch',
      '  instance: other',                                 // line 4
    ))).toBe('latch.yaml:4:3 YAML syntax: Map keys must be unique');
  });

  it('empty file', () => {
    expect(report('')).toBe('latch.yaml:1:1 the file is empty or is not a YAML mapping (it should start with "version: 1")');
    expect(report('# only a comment\n')).toMatch(/^latch\.yaml:1:1 the file is empty/);
  });

  it('missing version', () => {
    expect(report(yaml(
      '# Latch',
      'settings:',                                         // line 2: the mapping that lacks version
      '  instance: latch',
    ))).toBe('latch.yaml:2:1 version: is required');
  });

  it('a version Latch does not know', () => {
    expect(report(yaml('version: 2'))).toMatch(/^latch\.yaml:1:1 version: .*1/);
  });

  it('unknown key (misspelt), pointing at the misspelt key itself', () => {
    expect(reportLines(yaml(
      'version: 1',
      'groups:',
      '  - { name: eng, members: [alice@example.com] }',
      'flows:',
      '  - name: prod-read',                               // line 5: the flow that lacks requesters
      '    requsters: [group:eng]',                        // line 6
      '    access: [{ bundle: incident }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toEqual([
      'latch.yaml:5:5 flows[0].requesters: is required',
      'latch.yaml:6:5 flows[0].requsters: unknown key "requsters"',
    ]);
  });

  it('unknown key at the top level', () => {
    expect(report(yaml(
      'version: 1',
      'flow:',                                             // line 2
      '  - name: x',
    ))).toBe('latch.yaml:2:1 flow: unknown key "flow"');
  });

  it('bad duration', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration:',
      '      default: 1h',
      '      max: 5x',                                     // line 11
    ))).toBe('latch.yaml:11:7 flows[0].duration.max: "5x" is not a duration; write it like 30m, 4h, 1h30m or 7d');
  });

  it('bad duration in settings', () => {
    expect(report(yaml(
      'version: 1',
      'settings:',
      '  reminderInterval: often',                         // line 3
    ))).toBe('latch.yaml:3:3 settings.reminderInterval: "often" is not a duration; write it like 30m, 4h, 1h30m or 7d');
  });

  it('default duration longer than the maximum', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration:',
      '      default: 8h',                                 // line 10
      '      max: 4h',
    ))).toBe('latch.yaml:10:7 flows[0].duration.default: the default duration is longer than the maximum');
  });

  it('bad e-mail', () => {
    expect(report(yaml(
      'version: 1',
      'identities:',
      '  - email: alice@example.com',
      '    manager: carol',                                // line 4
    ))).toBe('latch.yaml:4:5 identities[0].manager: must be an e-mail address');
  });

  it('bad principal string', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters:',
      '      - alice@example.com',
      '      - team:sre',                                  // line 8
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:8:9 flows[0].requesters[1]: "team:sre" is not a principal; use an e-mail address, group:NAME, manager, resource_owner, integration_owner or oncall:SCHEDULE');
  });

  it('unknown group referenced by a flow requester', () => {
    expect(report(yaml(
      'version: 1',
      'groups:',
      '  - { name: eng, members: [alice@example.com] }',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters:',
      '      - group:engineering',                         // line 9
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:9:9 flows[0].requesters[0]: group "engineering" is not declared under groups');
  });

  it('unknown group in a group\'s members', () => {
    expect(report(yaml(
      'version: 1',
      'groups:',
      '  - name: eng',
      '    members:',
      '      - alice@example.com',
      '      - group:leads',                               // line 6
    ))).toBe('latch.yaml:6:9 groups[0].members[1]: group "leads" is not declared under groups');
  });

  it('group cycle', () => {
    expect(report(yaml(
      'version: 1',
      'groups:',
      '  - name: a',                                       // line 3
      '    members: [group:b]',
      '  - name: b',
      '    members: [group:a]',
    ))).toBe('latch.yaml:3:5 groups[0]: groups contain each other in a cycle: a → b → a');
  });

  it('group cycle reached through a group outside it, pointing at a group in the cycle', () => {
    expect(report(yaml(
      'version: 1',
      'groups:',
      '  - { name: everyone, members: [group:b] }',
      '  - { name: b, members: [group:c] }',               // line 4
      '  - { name: c, members: [group:b] }',
    ))).toBe('latch.yaml:4:5 groups[1]: groups contain each other in a cycle: b → c → b');
  });

  it('unknown integration in a flow', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access:',
      '      - integration: order',                        // line 8
      '        resources: any',
      '        permissions: [read]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:8:9 flows[0].access[0].integration: integration "order" is not declared under integrations');
  });

  it('unknown resource in a names selector', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: orders-prod, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access:',
      '      - integration: orders',
      '        resources:',
      '          names:',
      '            - orders-prod',
      '            - orders-prd',                          // line 12
      '        permissions: [read]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:12:15 flows[0].access[0].resources.names[1]: integration "orders" has no resource "orders-prd"');
  });

  it('unknown permission in a bundle item', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read, write] }] }',
      'bundles:',
      '  - name: incident',
      '    items:',
      '      - integration: orders',
      '        resource: db',
      '        permission: admin',                         // line 9
    ))).toBe('latch.yaml:9:9 bundles[0].items[0].permission: resource "orders/db" offers no permission "admin" (it offers: read, write)');
  });

  it('unknown bundle in a flow', () => {
    expect(report(yaml(
      'version: 1',
      'flows:',
      '  - name: incident',
      '    requesters: [alice@example.com]',
      '    access:',
      '      - bundle: incident',                          // line 6
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:6:9 flows[0].access[0].bundle: bundle "incident" is not declared under bundles');
  });

  it('duplicate flow name', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
      '  - name: prod-read',                               // line 10
      '    requesters: [bob@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:10:5 flows[1]: flow "prod-read" is declared twice');
  });

  it('flow with no approval steps and autoApprove false: nobody could approve', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval:',                                     // line 8
      '      autoApprove: false',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:8:5 flows[0].approval: no approval steps and autoApprove is false: nobody could ever approve a request (add steps or set autoApprove: true)');
  });

  it('autoApprove together with approval steps', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval:',
      '      autoApprove: true',                           // line 9
      '      steps:',
      '        - approvers: [lead@example.com]',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:9:7 flows[0].approval.autoApprove: autoApprove is true but steps are listed too; choose one');
  });

  it('more approvals required than approvers named', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters: [alice@example.com]',
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval:',
      '      steps:',
      '        - approvers: [lead@example.com, sec@example.com]',
      '          required: 3',                             // line 11
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:11:11 flows[0].approval.steps[0].required: 3 approvals are required but only 2 approver(s) are named');
  });

  it('a literal password instead of where the credentials come from', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - name: orders',
      '    type: postgresql',
      '    owner: lead@example.com',
      '    credentials: { password: hunter2 }',            // line 6
      '    resources: [{ name: db, permissions: [read] }]',
    ))).toBe('latch.yaml:6:5 integrations[0].credentials: say where the credentials come from: { env: VARIABLE }, { secret: "vault://path#key" } or { none: true }; never write a secret in the config');
  });

  it('a literal password next to a credential source', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - name: orders',
      '    type: postgresql',
      '    owner: lead@example.com',
      '    credentials:',
      '      env: ORDERS_PG_PASSWORD',
      '      password: hunter2',                           // line 8
      '    resources: [{ name: db, permissions: [read] }]',
    ))).toBe('latch.yaml:8:7 integrations[0].credentials.password: unknown key "password"');
  });

  it('a credential source that is not an environment variable name', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - name: orders',
      '    type: postgresql',
      '    owner: lead@example.com',
      '    credentials: { env: hunter2 }',                 // line 6
      '    resources: [{ name: db, permissions: [read] }]',
    ))).toBe('latch.yaml:6:20 integrations[0].credentials.env: must be an environment variable name such as PROD_PG_PASSWORD');
  });

  it('invalid integration type', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - name: orders',
      '    type: oracle',                                  // line 4
      '    owner: lead@example.com',
      '    resources: [{ name: db, permissions: [read] }]',
    ))).toMatch(/^latch\.yaml:4:5 integrations\[0\]\.type: .*"postgresql".*"mysql"/);
  });

  it('manager used as a requester', () => {
    expect(report(yaml(
      'version: 1',
      'integrations:',
      '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
      'flows:',
      '  - name: prod-read',
      '    requesters:',
      '      - manager',                                   // line 7
      '    access: [{ integration: orders, resources: any, permissions: [read] }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4h }',
    ))).toBe('latch.yaml:7:9 flows[0].requesters[0]: "manager" only makes sense for approvers, not requesters');
  });
});

describe('permission levels and the integration maximum', () => {
  const integration = (...resourceLines: string[]) => yaml(
    'version: 1',
    'integrations:',
    '  - name: orders',
    '    type: postgresql',
    '    owner: lead@example.com',
    '    maxLevel: read',
    '    retainRevoked: 7d',
    '    resources:',
    '      - name: db',
    '        permissions:',
    ...resourceLines,
  );

  it('takes level out of the settings the backend sees and keeps retainRevoked as a duration', () => {
    const result = parseConfig(integration('          read: { roles: [orders_ro], level: read }'), 'latch.yaml');
    if (!result.ok) throw new Error(formatConfigErrors(result.errors));
    const parsed = result.config.integrations[0];
    expect(parsed?.maxLevel).toBe('read');
    expect(parsed?.retainRevoked).toBe(7 * 86_400_000);
    expect(parsed?.resources[0]?.permissions).toEqual({ read: { roles: ['orders_ro'] } });
    expect(parsed?.resources[0]?.levels).toEqual({ read: 'read' });
  });

  it('a permission above the maximum, pointing at its level', () => {
    expect(report(integration(
      '          read: { roles: [orders_ro], level: read }',
      '          write: { roles: [orders_rw], level: write }',  // line 12
    ))).toBe('latch.yaml:12:40 integrations[0].resources[0].permissions.write.level: permission "write" is write, above the integration\'s maxLevel read; Latch will never grant it');
  });

  it('a permission that says no level when the integration has a maximum', () => {
    expect(report(integration(
      '          read: { roles: [orders_ro] }',                  // line 11
    ))).toBe('latch.yaml:11:11 integrations[0].resources[0].permissions.read: permission "read" says no level; with maxLevel read on the integration every permission needs level: read | write | admin');
  });

  it('a level Latch does not know', () => {
    expect(report(integration(
      '          read: { roles: [orders_ro], level: root }',     // line 11
    ))).toBe('latch.yaml:11:39 integrations[0].resources[0].permissions.read.level: level must be one of read, write, admin');
  });
});

/** One integration and one auto-approved flow in lines 1-9; what a test adds starts at line 10. */
const oneFlow = (...lines: string[]): string => yaml(
    'version: 1',
    'integrations:',
    '  - { name: orders, type: postgresql, owner: lead@example.com, resources: [{ name: db, permissions: [read] }] }',
    'flows:',
    '  - name: prod-read',
    '    requesters: [alice@example.com]',
    '    access: [{ integration: orders, resources: any, permissions: [read] }]',
    '    approval: { autoApprove: true }',
    '    duration: { default: 1h, max: 4h }',
  ...lines,
);

describe('reason rules of a flow', () => {
  const flow = (...reasonLines: string[]) => oneFlow('    reason:', ...reasonLines);

  it('accepts a prompt, a pattern with its error and a link', () => {
    const result = parseConfig(flow(
      '      prompt: Ticket or incident id',
      '      pattern: "^(?<ref>(INC|CHG)-[0-9]+)"',
      '      patternError: Start with the ticket id.',
      '      link: "https://tickets.example.com/browse/{{reference}}"',
    ), 'latch.yaml');
    if (!result.ok) throw new Error(formatConfigErrors(result.errors));
    expect(result.config.flows[0]?.reason).toEqual({
      prompt: 'Ticket or incident id', pattern: '^(?<ref>(INC|CHG)-[0-9]+)', patternError: 'Start with the ticket id.', link: 'https://tickets.example.com/browse/{{reference}}',
    });
  });

  it('a pattern that is not a regular expression', () => {
    expect(report(flow(
      '      pattern: "^(INC"',                                 // line 11
    ))).toMatch(/^latch\.yaml:11:7 flows\[0\]\.reason\.pattern: "\^\(INC" is not a valid regular expression: /);
  });

  it('a link without a pattern, or not https, or without {{reference}}', () => {
    expect(report(flow(
      '      link: "https://tickets.example.com/{{reference}}"', // line 11
    ))).toBe('latch.yaml:11:7 flows[0].reason.link: link needs a pattern: Latch links the part of the reason the pattern matches');
    expect(report(flow(
      '      pattern: "^INC-[0-9]+"',
      '      link: "http://tickets.example.com/{{reference}}"',  // line 12
    ))).toBe('latch.yaml:12:7 flows[0].reason.link: link must be an https:// URL without spaces, quotes, "<", ">" or "|"');
    expect(report(flow(
      '      pattern: "^INC-[0-9]+"',
      '      link: "https://tickets.example.com/browse"',        // line 12
    ))).toBe('latch.yaml:12:7 flows[0].reason.link: link must contain {{reference}}, where the ticket or incident id goes');
  });
});

describe('extension rules of a flow', () => {
  const flow = (extensions: string) => oneFlow(`    extensions: ${extensions}`); // line 10

  it('reads the share, the step, the count and the total', () => {
    const result = parseConfig(flow('{ after: 50%, step: 30m, maxCount: 2, maxTotal: 1h }'), 'latch.yaml');
    if (!result.ok) throw new Error(formatConfigErrors(result.errors));
    expect(result.config.flows[0]?.extensions).toEqual({ allowed: true, autoApprove: false, after: 0.5, step: 30 * 60_000, maxCount: 2, maxTotal: 3_600_000 });
  });

  it('a share that is not a percentage, a step over the maximum, a total shorter than a step', () => {
    expect(report(flow('{ after: half }'))).toBe('latch.yaml:10:19 flows[0].extensions.after: "half" is not a share; write it like 50% (0% to 100%)');
    expect(report(flow('{ step: 5h }'))).toBe('latch.yaml:10:19 flows[0].extensions.step: the extension step is longer than the flow\'s maximum duration');
    expect(report(flow('{ step: 1h, maxTotal: 30m }'))).toBe('latch.yaml:10:29 flows[0].extensions.maxTotal: maxTotal is shorter than one extension step: no extension could ever be granted');
  });
});

describe('several mistakes in one file', () => {
  it('reports every shape mistake, sorted by line whatever order the sections come in', () => {
    expect(reportLines(yaml(
      'version: 1',
      'flows:',
      '  - name: Prod Read',                               // line 3
      '    requesters: [alice@example.com]',
      '    access: [{ bundle: incident }]',
      '    approval: { autoApprove: true }',
      '    duration: { default: 1h, max: 4 days }',        // line 7
      'identities:',
      '  - { email: not-an-address }',                     // line 9
      'integrations:',
      '  - name: orders',
      '    type: oracle',                                  // line 12
      '    owner: lead@example.com',
      '    resources: [{ name: db, permissions: [read] }]',
    )).map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual([
      'latch.yaml:3:5 flows[0].name:',
      'latch.yaml:7:30 flows[0].duration.max:',
      'latch.yaml:9:7 identities[0].email:',
      'latch.yaml:12:5 integrations[0].type:',
    ]);
  });

  it('reports every reference mistake, sorted by line', () => {
    expect(reportLines(yaml(
      'version: 1',
      'groups:',
      '  - { name: eng, members: [alice@example.com, group:leads] }',     // line 3
      'integrations:',
      '  - { name: orders, type: postgresql, owner: group:owners, resources: [{ name: db, permissions: [read] }] }', // line 5
      'flows:',
      '  - name: prod-read',
      '    requesters: [group:eng]',
      '    access: [{ integration: orders, resources: any, permissions: [write] }]', // line 9
      '    approval: { steps: [{ approvers: [group:sre] }] }',                     // line 10
      '    duration: { default: 8h, max: 4h }',                                     // line 11
    ))).toEqual([
      'latch.yaml:3:47 groups[0].members[1]: group "leads" is not declared under groups',
      'latch.yaml:5:39 integrations[0].owner: group "owners" is not declared under groups',
      'latch.yaml:9:67 flows[0].access[0].permissions[0]: no resource of integration "orders" offers permission "write"',
      'latch.yaml:10:39 flows[0].approval.steps[0].approvers[0]: group "sre" is not declared under groups',
      'latch.yaml:11:17 flows[0].duration.default: the default duration is longer than the maximum',
    ]);
  });
});
