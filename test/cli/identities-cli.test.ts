import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { eventually } from '../support/harness.js';
import { fakeOktaRead, OKTA, type OktaUser } from '../support/identity-fakes.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SLOW = { timeout: 90_000 };

interface Run { code: number; stdout: string; stderr: string }

/** `tsx scripts/latch.ts ARGS`, what `npm run latch -- ARGS` runs. */
function latchCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, env: { ...process.env, LATCH_OPERATOR: 'ops@example.com', ...env }, timeout: 80_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const CONFIG = `version: 1
settings: { admins: [sec@example.com] }
identities:
  - { email: bob@example.com, manager: lead@example.com }
identitySources:
  - { type: okta, url: ${OKTA}, token: { env: OKTA_API_TOKEN }, syncEvery: 1h, maxDisableShare: 50% }
  - { type: scim, token: { env: LATCH_SCIM_TOKEN } }
groups:
  - { name: engineers, members: ["okta:engineering", carol@example.com] }
  - { name: all-staff, members: [group:engineers] }
`;

const users = (alice: OktaUser['status'] = 'ACTIVE'): OktaUser[] => [
  { id: '00u1alice', login: 'alice@example.com', status: alice, managerId: '00u3mia' },
  { id: '00u2bob', login: 'bob@example.com', status: 'ACTIVE' },
  { id: '00u3mia', login: 'mia@example.com', status: 'ACTIVE' },
];
const ENGINEERING = { id: '00g1engineering', name: 'engineering', members: ['00u1alice', '00u2bob'] };

let dir = '';
let latch: RunningLatch;
let database = '';
let configFile = '';

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  dir = mkdtempSync(join(tmpdir(), 'latch-identities-cli-'));
  configFile = join(dir, 'latch.yaml');
  writeFileSync(configFile, CONFIG);
  database = `sqlite:${join(dir, 'latch.db')}`;
  fakeOktaRead(users(), [ENGINEERING]);
  latch = await startLatch({
    configFile, databaseUrl: database, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(),
    env: { OKTA_API_TOKEN: 'okta-token-0123456789', LATCH_SCIM_TOKEN: 'scim-token-0123456789' }, runner: { sweep: '*/1 * * * * *' },
  });
  await eventually(async () => (await latch.store.identitySnapshots?.syncs())?.some((sync) => sync.lastSuccessAt !== null) ?? false, 'the start-up sync', 15_000);
});

afterAll(async () => {
  await latch?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('latch identities sync and show', () => {
  it('shows a person\'s manager and groups and where each came from', SLOW, async () => {
    const alice = await latchCli(['identities', 'show', 'Alice@example.com', '--database', database, '--config', configFile]);
    expect(alice).toMatchObject({ code: 0, stderr: '' });
    expect(alice.stdout).toBe([
      'alice@example.com (alice Test)',
      '  state: active',
      '  manager: mia@example.com (from okta)',
      '  okta (okta): id 00u1alice, active, manager mia@example.com, in engineering',
      '  group engineers: okta:engineering',
      '  group all-staff: a nested group',
      '',
    ].join('\n'));
    const bob = await latchCli(['identities', 'show', 'bob@example.com', '--database', database, '--config', configFile]);
    expect(bob.stdout).toContain('  manager: lead@example.com (from the config (identities))');
    const stranger = await latchCli(['identities', 'show', 'nobody@example.com', '--database', database, '--config', configFile]);
    expect(stranger).toMatchObject({ code: 1, stdout: 'nobody@example.com is not known to the config or to any identity source\n' });
    const bad = await latchCli(['identities', 'show', 'not-an-address', '--database', database, '--config', configFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('identities show: "not-an-address" is not an e-mail address');
  });

  it('asks the running server to sync and prints the outcome; a held answer is applied only with --allow-mass-disable', SLOW, async () => {
    fakeOktaRead(users('SUSPENDED').slice(0, 1), [ENGINEERING]);
    const held = await latchCli(['identities', 'sync', 'okta', '--database', database, '--config', configFile, '--wait', '20']);
    expect(held.code).toBe(1);
    expect(held.stdout).toMatch(/^HELD okta: identity source okta reports 3 of 3 active people disabled or gone \(100%, more than maxDisableShare 50%\)/);
    expect(latch.ctx.current().directory.departed('alice@example.com')).toBeNull();

    fakeOktaRead(users('SUSPENDED').slice(0, 1), [ENGINEERING]);
    const applied = await latchCli(['identities', 'sync', '--allow-mass-disable', '--database', database, '--config', configFile, '--wait', '20']);
    expect(applied).toMatchObject({ code: 0 });
    expect(applied.stdout).toMatch(/^OK {3}okta: 3 people, 1 groups, synced \d{4}-/);
    expect(applied.stderr).toBe('asked the server to sync okta, applying an answer the share limit would hold\n');
    expect(latch.ctx.current().directory.departed('alice@example.com')).toBe('okta reports alice@example.com disabled');
    expect(latch.ctx.current().directory.departed('mia@example.com')).toBe('okta reports mia@example.com deleted');
    const requested = (await latch.store.auditEvents({})).filter((event) => event.type === 'identity.sync_requested');
    expect(requested.map((event) => ({ actor: event.actor, ...event.data }))).toEqual([
      { actor: 'ops@example.com', sources: ['okta'], allowMassDisable: false },
      { actor: 'ops@example.com', sources: ['okta'], allowMassDisable: true },
    ]);
    expect((await latch.store.auditEvents({})).filter((event) => event.type === 'identity.synced').at(-1)?.data).toMatchObject({ source: 'okta', leavers: 3, massDisableAllowed: true });
    const shown = await latchCli(['identities', 'show', 'alice@example.com', '--database', database, '--config', configFile]);
    expect(shown.stdout).toContain('  state: GONE: okta reports alice@example.com disabled; Latch acts for them no more');
  });

  it('refuses a source it cannot read with a specific message', SLOW, async () => {
    const scim = await latchCli(['identities', 'sync', 'scim', '--database', database, '--config', configFile]);
    expect(scim).toMatchObject({ code: 1, stderr: 'latch: scim is a SCIM source: the identity provider pushes to it, there is nothing to read\n' });
    const unknown = await latchCli(['identities', 'sync', 'entra', '--database', database, '--config', configFile]);
    expect(unknown).toMatchObject({ code: 1, stderr: 'latch: the config has no identity source "entra" (it reads: okta)\n' });
  });
});
