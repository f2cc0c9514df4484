// Latch stopped while thousands of grants expire: started again, it answers health checks
// and commands at once and works off the overdue revocations with bounded concurrency.
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/harness.js';
import { PG_HOST, PG_PORT } from '../support/postgres.js';
import { FAULT_TIMEOUT_MS, FULL, SCALE } from './support/fault-scale.js';
import { createFaultStack, engineerId, type FaultStack } from './support/fault-stack.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let stack: FaultStack | undefined;
let proxy: TcpProxy | undefined;
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const POOL = 3;

describe('restart after downtime', () => {
  it(`answers at once after a stop during which ${SCALE.overdueGrants} grants expired, and drains them with bounded concurrency`, { timeout: FAULT_TIMEOUT_MS }, async () => {
    proxy = await startTcpProxy({ host: PG_HOST, port: PG_PORT });
    const p = proxy;
    const count = SCALE.overdueGrants;
    const s = await createFaultStack({ engineers: count, pgPort: p.port, pgMaxConnections: POOL });
    stack = s;
    await s.start();

    // Long enough for every grant to be in place before the stop; the real clock runs out while Latch is down.
    const durationS = FULL ? 300 : 20;
    let next = 0;
    const send = async (): Promise<void> => {
      while (next < count) {
        const index = next;
        next += 1;
        const sent = await s.command(engineerId(index), `request app read for ${durationS}s because downtime ${index}`);
        if (sent.status !== 200) throw new Error(`the command of ${engineerId(index)} got ${sent.status}`);
        if (!(await s.answer(sent.responseUrl, 30_000))) throw new Error(`no answer to ${engineerId(index)}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, send));
    await eventually(() => s.grants().filter((grant) => grant.state === 'active').length === count, 'every grant to be active', durationS * 1_000);
    const lastExpiry = Math.max(...s.grants().map((grant) => grant.expires_at ?? 0));
    expect(Date.now(), 'every grant was in place before any expired').toBeLessThan(Math.min(...s.grants().map((grant) => grant.expires_at ?? 0)));
    expect(await s.managedRoles()).toHaveLength(count);

    await s.stop();
    await sleep(Math.max(0, lastExpiry - Date.now()) + 1_000);
    const overdue = s.grants().filter((grant) => grant.revoked_at === null).length;
    expect(overdue).toBe(count);

    p.resetPeak();
    const started = Date.now();
    const latch = await s.start();
    const health = await fetch(`${latch.base}/healthz`);
    expect(health.status).toBe(200);
    const asked = Date.now();
    const list = await s.command(engineerId(0), 'list');
    expect(list.status).toBe(200);
    const answer = await s.answer(list.responseUrl, 5_000);
    expect(answer, 'a command is answered while the backlog drains').not.toBeNull();
    const answeredInMs = Date.now() - asked;
    expect(answeredInMs).toBeLessThan(5_000);

    await eventually(() => s.grants().every((grant) => grant.revoked_at !== null), 'every overdue revocation to be done', FULL ? 600_000 : 120_000);
    const drainedInMs = Math.max(...s.grants().map((grant) => grant.revoked_at ?? 0)) - started;
    expect(await s.managedRoles()).toEqual([]);
    // One pool for the server-wide statements and one for the resource's database.
    expect(p.peak).toBeLessThanOrEqual(2 * POOL);
    expect(s.rows<{ state: string }>('SELECT DISTINCT state FROM requests')).toEqual([{ state: 'expired' }]);
    process.stdout.write(`restart after downtime: ${count} overdue revocations drained in ${drainedInMs} ms; a command was answered in ${answeredInMs} ms; at most ${p.peak} backend connections\n`);
  });
});
