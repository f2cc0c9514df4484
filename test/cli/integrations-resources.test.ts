// `npm run latch -- integrations resources`: the real script in a child process, against a
// command integration whose backend (scripts/example-provisioner.mjs) reports its resources.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SLOW = { timeout: 90_000 };
const EXAMPLE = resolve(ROOT, 'scripts/example-provisioner.mjs');

interface Run { code: number; stdout: string; stderr: string }

function latch(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 80_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'latch-resources-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config whose `wiki` integration offers `resources` (YAML lines), and a backend state file offering `catalogue`. */
function setup(name: string, resources: string, catalogue: Record<string, { permissions: string[]; description?: string }>): { config: string; env: NodeJS.ProcessEnv } {
  const state = join(dir, `${name}.json`);
  writeFileSync(state, JSON.stringify({ accounts: {}, resources: catalogue }));
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, `version: 1
integrations:
  - name: wiki
    type: command
    connection: { command: ${EXAMPLE}, env: EXAMPLE_PROVISIONER_STATE, timeoutMs: 10000 }
    owner: owner@example.com
    resources:
${resources}
  - name: orders-pg
    type: postgresql
    connection: { host: 127.0.0.1, port: 5432, database: postgres, user: postgres }
    owner: owner@example.com
    resources:
      - { name: orders, permissions: { read: { roles: [app_readonly] } } }
flows:
  - name: wiki
    requesters: [alice@example.com]
    access: [{ integration: wiki, resources: any, permissions: [edit] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`);
  return { config, env: { EXAMPLE_PROVISIONER_STATE: state } };
}

describe.concurrent('npm run latch -- integrations resources', () => {
  it('exit 0 when the backend offers everything the config names, with what only the backend offers marked +', SLOW, async () => {
    const { config, env } = setup('match', '      - { name: handbook, permissions: [edit] }', {
      handbook: { permissions: ['edit', 'read'], description: 'The handbook space' },
      tracker: { permissions: ['triage'] },
    });
    const run = await latch(['integrations', 'resources', '--config', config], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'OK   wiki (command)',
      '     ✓ handbook: edit (The handbook space)',
      '       + also offered, not in the config: read',
      '     + tracker: offered by the backend (triage), not in the config',
      'SKIP orders-pg (postgresql): this type cannot list what it offers',
      '',
    ]);
  });

  it('exit 1 naming each config resource and permission the backend does not know', SLOW, async () => {
    const { config, env } = setup('mismatch', '      - { name: handbook, permissions: [edit, admin] }\n      - { name: legacy, permissions: [read] }', {
      handbook: { permissions: ['edit'] },
    });
    const run = await latch(['integrations', 'resources', 'wiki', '--config', config], env);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')).toEqual([
      'FAIL wiki (command)',
      '     ✗ handbook: edit',
      '       ✗ handbook/admin: in the config, not offered by the backend; a grant there would fail',
      '     ✗ legacy: in the config, not offered by the backend; a grant there would fail',
      '',
    ]);
  });

  it('exit 1 when the backend cannot list, or the named integration is not in the config; exit 2 for extra words', SLOW, async () => {
    const { config } = setup('unlisted', '      - { name: handbook, permissions: [edit] }', {});
    const [refused, missing, named, extra] = await Promise.all([
      latch(['integrations', 'resources', 'wiki', '--config', config], { EXAMPLE_PROVISIONER_STATE: join(dir, 'no-such-state.json') }),
      latch(['integrations', 'resources', 'nope', '--config', config]),
      latch(['integrations', 'resources', 'orders-pg', '--config', config]),
      latch(['integrations', 'resources', 'wiki', 'more', '--config', config]),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^FAIL wiki \(command\): integration "wiki": command provisioner list-resources failed: the command answered: the state file .* has no "resources" catalogue to list\n$/);
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: `latch: ${config} has no integration "nope"\n` });
    expect(named).toMatchObject({ code: 1, stdout: 'SKIP orders-pg (postgresql): this type cannot list what it offers\n' });
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('integrations resources: unexpected argument "more"');
  });
});
