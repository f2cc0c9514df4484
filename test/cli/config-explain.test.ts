// `npm run latch -- config check --explain`: what a config means in people, checked on
// the example config shipped with Latch and on one with channels and routing rules.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
/** tsx starts in 1-2 s; a loaded machine may take several times that. */
const SLOW = { timeout: 90_000 };

interface Run { code: number; stdout: string; stderr: string }

function latch(args: readonly string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, env: { ...process.env, LATCH_CONFIG: '' }, timeout: 80_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'latch-explain-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The example config with channels on two flows and two routing rules. */
function routedExample(): string {
  return readFileSync(join(ROOT, 'latch.config.example.yaml'), 'utf8')
    .replace('  revokeAttemptsBeforeAlert: 5\n', [
      '  revokeAttemptsBeforeAlert: 5',
      '  routing:',
      '    - name: production writes to security',
      '      when: { flows: [production-write] }',
      '      approverDMs: false',
      '      channels: [{ platform: slack, id: C0SECURITY }, { platform: teams, id: "19:security@thread.tacv2" }]',
      '    - name: staging quiet',
      '      when: { labels: [staging] }',
      '      quietWhenAutomatic: true',
      '',
    ].join('\n'))
    .replace('    notify:\n      approverDMs: true\n', '    notify:\n      approverDMs: true\n      channels: [{ platform: slack, id: C0ACCESS }]\n')
    .replace('    justification: optional\n', '    justification: optional\n    notify: { channels: [{ platform: slack, id: C0ACCESS }] }\n');
}

describe.concurrent('npm run latch -- config check --explain', () => {
  it('explains every flow of the example config: who asks, who approves at each step, where each message goes', SLOW, async () => {
    const run = await latch(['config', 'check', '--explain', 'latch.config.example.yaml']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'latch.config.example.yaml: OK (3 flows, 1 integrations)',
      '',
      'flow staging-self-service: Engineers help themselves in staging',
      '  offers: read on orders-pg/orders-staging; write on orders-pg/orders-staging',
      '  who can ask: 3 people: alice@example.com, bob@example.com, carol@example.com',
      '    group:engineering (3 people: alice@example.com, bob@example.com, carol@example.com)',
      '  approval: automatic (approval.autoApprove); nobody is asked',
      '  messages:',
      '    the requester (and whoever gets the access): a DM at every change of their request',
      '    channels: none',
      '    a revoke that keeps failing: an alert to the admins and integration owners (3 people: bob@example.com, carol@example.com, sam@example.com)',
      '  in all: notifies 4 people (3 requesters, 3 admins and owners for alerts) and posts to no channel',
      '',
      'flow production-read',
      '  offers: read on orders-pg/orders-primary; write on orders-pg/orders-staging; bundle orders-incident',
      '  who can ask: 3 people: alice@example.com, bob@example.com, carol@example.com',
      '    group:engineering (3 people: alice@example.com, bob@example.com, carol@example.com)',
      '  approval step 1 "owner or lead": 1 approval needed; asks 2 people: bob@example.com, carol@example.com',
      '    resource_owner: the owner of the requested resource, else its integration\'s owner: orders-pg/orders-primary → bob@example.com; orders-pg/orders-staging → its integration\'s owner group:team-leads (2 people: bob@example.com, carol@example.com)',
      '    group:team-leads (2 people: bob@example.com, carol@example.com)',
      '    nobody is asked about their own request, and nobody approves two steps of one request',
      '  messages:',
      '    the requester (and whoever gets the access): a DM at every change of their request',
      '    approval cards: by DM to each approver of the current step (the flow\'s notify)',
      '    channels: none',
      '    reminders: every 4h until it times out after 8h',
      '    escalation: never (it times out after 8h, before escalateAfter 1d)',
      '    a revoke that keeps failing: an alert to the admins and integration owners (3 people: bob@example.com, carol@example.com, sam@example.com)',
      '  in all: notifies 4 people (3 requesters, 2 approvers by DM, 3 admins and owners for alerts) and posts to no channel',
      '',
      'flow production-write',
      '  offers: write on orders-pg/orders-primary',
      '  who can ask: 3 people: alice@example.com, bob@example.com, carol@example.com',
      '    group:engineering (3 people: alice@example.com, bob@example.com, carol@example.com)',
      '  approval step 1 "manager": 1 approval needed; asks 1 person: carol@example.com',
      '    manager: the manager of whoever gets the access, from identities: carol@example.com for alice@example.com, bob@example.com; nobody for carol@example.com (no manager under identities)',
      '  approval step 2 "security": 1 approval needed; asks 1 person: sam@example.com',
      '    group:security (1 person: sam@example.com)',
      '    nobody is asked about their own request, and nobody approves two steps of one request',
      '  refused when asked, since too few others could approve: carol@example.com (write on orders-pg/orders-primary)',
      '  messages:',
      '    the requester (and whoever gets the access): a DM at every change of their request',
      '    approval cards: by DM to each approver of the current step (the flow\'s notify)',
      '    channels: none',
      '    reminders: no reminders (it times out after 4h, before the first reminder at 4h)',
      '    escalation: never',
      '    a revoke that keeps failing: an alert to the admins and integration owners (3 people: bob@example.com, carol@example.com, sam@example.com)',
      '  in all: notifies 4 people (3 requesters, 2 approvers by DM, 3 admins and owners for alerts) and posts to no channel',
      '',
    ]);
  });

  it('groups what a flow offers by where its messages go, naming the routing rule and the channels', SLOW, async () => {
    const file = join(dir, 'routed.yaml');
    writeFileSync(file, routedExample());
    const run = await latch(['config', 'check', file, '--explain']);
    expect(run.code).toBe(0);
    const flows = run.stdout.split('\n\n');
    expect(flows[1]?.split('\n').filter((line) => /messages|channels|approval cards|in all/.test(line))).toEqual([
      '  messages:',
      '    channels: none (quietWhenAutomatic: nothing goes to slack C0ACCESS for requests Latch approves itself)',
      '  in all: notifies 4 people (3 requesters, 3 admins and owners for alerts) and posts to no channel',
    ]);
    expect(flows[2]?.split('\n').filter((line) => /messages|for |channels|approval cards|in all/.test(line))).toEqual([
      '  messages:',
      '    for read on orders-pg/orders-primary:',
      '      approval cards: by DM to each approver of the current step (the flow\'s notify)',
      '      channels: slack C0ACCESS: the request\'s card, then every change as a reply in its thread (the flow\'s notify)',
      '    for write on orders-pg/orders-staging; bundle orders-incident:',
      '      approval cards: by DM to each approver of the current step (routing rule "staging quiet")',
      '      channels: slack C0ACCESS: the request\'s card, then every change as a reply in its thread; nothing for requests decided automatically (routing rule "staging quiet")',
      '  in all: notifies 4 people (3 requesters, 2 approvers by DM, 3 admins and owners for alerts) and posts to 1 channel (slack C0ACCESS)',
    ]);
    expect(flows[3]?.split('\n').filter((line) => /messages|channels|approval cards|in all/.test(line))).toEqual([
      '  messages:',
      '    approval cards: not by DM (approverDMs: false), only in slack C0SECURITY, teams 19:security@thread.tacv2 (routing rule "production writes to security")',
      '    channels: slack C0SECURITY, teams 19:security@thread.tacv2: the request\'s card, then every change as a reply in its thread (routing rule "production writes to security")',
      '  in all: notifies 4 people (3 requesters, 0 approvers by DM, 3 admins and owners for alerts) and posts to 2 channels (slack C0SECURITY, teams 19:security@thread.tacv2)',
    ]);
  });

  it('explains nothing for a config with errors: the report and exit 1, as config check without it', SLOW, async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, routedExample().replace('id: C0SECURITY', 'id: "#security"'));
    const run = await latch(['config', 'check', '--explain', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ settings\\.routing\\[0\\]\\.channels\\[0\\]\\.id: "#security" is not a Slack channel id`));
    expect(run.stdout).not.toContain('flow ');
  });

  it('takes --explain with config check only', SLOW, async () => {
    const run = await latch(['audit', 'verify', '--explain']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('latch: audit verify takes no --explain option');
  });
});
