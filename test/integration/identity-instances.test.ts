import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { eventually } from '../support/harness.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

const TOKEN = 'scim-bearer-token-for-two-instances-01';
const CONFIG = `version: 1
identitySources:
  - { type: scim, token: { env: LATCH_SCIM_TOKEN } }
groups:
  - { name: dbas, members: ["scim:DB Admins"] }
`;
let dir = '';
const instances: RunningLatch[] = [];

async function push(latch: RunningLatch, method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${latch.port}/scim/v2${path}`, { method, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-identity-instances-'));
  writeFileSync(join(dir, 'latch.yaml'), CONFIG);
  for (let index = 0; index < 2; index += 1) {
    instances.push(await startLatch({
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(), env: { LATCH_SCIM_TOKEN: TOKEN }, runner: { sweep: '*/1 * * * * *' }, watchConfig: false,
    }));
  }
});

afterAll(async () => {
  for (const latch of instances) await latch.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('identity sources with two instances on one store', () => {
  it('lets the instance that did not receive a SCIM push see it within seconds', async () => {
    const [a, b] = instances as [RunningLatch, RunningLatch];
    const user = await push(a, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'erin@example.com', active: true, emails: [{ primary: true, value: 'erin@example.com' }] });
    const group = await push(a, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'DB Admins', members: [{ value: user.id }] });
    expect(group.displayName).toBe('DB Admins');
    expect([...a.ctx.current().directory.membersOf('dbas')]).toEqual(['erin@example.com']);
    await eventually(() => b.ctx.current().directory.membersOf('dbas').has('erin@example.com'), 'the other instance to see the group', 15_000);

    await push(a, 'PATCH', `/Users/${String(user.id)}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
    await eventually(() => b.ctx.current().directory.departed('erin@example.com') !== null, 'the other instance to see the deactivation', 15_000);
    expect(b.ctx.current().directory.membersOf('dbas').size).toBe(0);
  });
});
