import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { eventually } from '../support/harness.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

let latch: RunningLatch;
let dir: string;
let state: string;
const notifier = new RecordingNotifier();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-command-'));
  state = join(dir, 'backend.json');
  writeFileSync(join(dir, 'latch.yaml'), `version: 1
integrations:
  - name: wiki
    type: command
    connection: { command: ${resolve('scripts/example-provisioner.mjs')}, env: EXAMPLE_PROVISIONER_STATE, timeoutMs: 10000 }
    owner: owner@example.com
    accessDetails: "log in to {{url}} as {{username}}"
    resources:
      - { name: handbook, permissions: [edit] }
flows:
  - name: wiki
    requesters: [alice@example.com]
    access: [{ integration: wiki, resources: any, permissions: [edit] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`);
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), notifier, env: { EXAMPLE_PROVISIONER_STATE: state }, runner: { sweep: '*/1 * * * * *' },
  });
});

afterAll(async () => {
  await latch?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a backend of the organisation\'s own, behind the command provisioner', () => {
  it('is granted and revoked through the executable, with the credentials delivered and never stored', async () => {
    const created = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'handbook', permission: 'edit' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    const principal = (await latch.store.getRequest(id))?.grants[0]?.principal ?? '';
    expect(readFileSync(state, 'utf8')).toContain(principal);
    const delivered = notifier.deliveries.find((delivery) => delivery.record.request.id === id)?.items[0];
    expect(Object.keys(delivered?.secrets ?? {})).toEqual(['password']);
    expect(readFileSync(state, 'utf8')).not.toContain(delivered?.secrets.password ?? 'no password');

    await revokeAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, id);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'revoked', 'the grant to be revoked');
    expect(existsSync(state) ? readFileSync(state, 'utf8') : '').not.toContain(principal);
  });
});
