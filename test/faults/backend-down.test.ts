// PostgreSQL taken away (a loopback proxy that cuts every connection) while grants expire:
// revocations are retried with backoff, the admins are alerted once while it is down, nothing is
// marked revoked that is still in the backend, and everything completes within one backoff
// interval of the backend coming back.
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/harness.js';
import { PG_HOST, PG_PORT } from '../support/postgres.js';
import { FAULT_TIMEOUT_MS, SCALE } from './support/fault-scale.js';
import { ADMIN, createFaultStack, engineerId, requestIdIn, type FaultStack } from './support/fault-stack.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let stack: FaultStack | undefined;
let proxy: TcpProxy | undefined;
afterAll(async () => {
  proxy?.up();
  await stack?.close();
  await proxy?.close();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('backend down', () => {
  it(`retries ${SCALE.backendDownExpiries} revocations while PostgreSQL is unreachable and finishes them when it returns`, { timeout: FAULT_TIMEOUT_MS }, async () => {
    proxy = await startTcpProxy({ host: PG_HOST, port: PG_PORT });
    const p = proxy;
    const count = SCALE.backendDownExpiries;
    const s = await createFaultStack({ engineers: count, pgPort: p.port, settings: '  revokeAttemptsBeforeAlert: 2' });
    stack = s;
    await s.start();

    // Expiries spread over a few seconds, all after every grant is in place.
    const lead = Math.ceil(count / 10) + 8;
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const sent = await s.command(engineerId(index), `request app read for ${lead + (index % 5)}s because backend down ${index}`);
      expect(sent.status).toBe(200);
      const id = requestIdIn(await s.answer(sent.responseUrl));
      if (!id) throw new Error(`no request id in the answer to ${engineerId(index)}`);
      ids.push(id);
    }
    await eventually(() => s.grants().filter((grant) => grant.state === 'active').length === count, 'every grant to be active', 60_000);
    const principals = s.grants().map((grant) => grant.principal ?? '');
    expect((await s.managedRoles()).sort()).toEqual([...principals].sort());

    p.down();
    const lastExpiry = Math.max(...s.grants().map((grant) => grant.expires_at ?? 0));
    const alertsBefore = s.slack.dmsTo(ADMIN.id).length;
    await sleep(Math.max(0, lastExpiry - Date.now()) + 6_000);

    // While it is down: every expiry was attempted and failed, nothing was marked revoked.
    expect(s.grants().filter((grant) => grant.revoked_at !== null)).toEqual([]);
    const waiting = s.rows<{ state: string; n: number }>('SELECT state, count(*) AS n FROM requests GROUP BY state');
    expect(waiting.filter((row) => !['revoking', 'revoke_failed'].includes(row.state))).toEqual([]);
    const retried = s.rows<{ attempts: number; last_error: string | null }>("SELECT attempts, last_error FROM jobs WHERE kind = 'revoke' AND state = 'pending'");
    expect(retried).toHaveLength(count);
    for (const job of retried) {
      expect(job.attempts).toBeGreaterThanOrEqual(1);
      expect(job.last_error).toBeTruthy();
    }
    const alerts = (): unknown[] => s.slack.dmsTo(ADMIN.id).slice(alertsBefore).filter((message) => /ALERT: revoking AR-/.test(JSON.stringify(message)));
    await eventually(() => alerts().length > 0, 'an alert to the admins while PostgreSQL is down', 30_000);
    // One outage is one alert in the admins' DMs, not one per grant; the cards' threads keep the rest.
    await eventually(() => s.rows("SELECT id FROM requests WHERE state = 'revoke_failed'").length === count, 'every revocation to be marked as failing', 30_000);
    expect(alerts()).toHaveLength(1);
    expect((await s.managedRoles()).sort()).toEqual([...principals].sort());

    // "One backoff interval": the latest retry already scheduled when the backend returns.
    const nextRetry = s.rows<{ at: number }>("SELECT max(run_at) AS at FROM jobs WHERE kind = 'revoke' AND state = 'pending'")[0]?.at ?? Date.now();
    const backAt = Date.now();
    p.up();
    await eventually(() => s.grants().every((grant) => grant.revoked_at !== null), 'every revocation to complete after PostgreSQL returns', Math.max(0, nextRetry - backAt) + 30_000);
    const lastRevoked = Math.max(...s.grants().map((grant) => grant.revoked_at ?? 0));
    expect(lastRevoked - backAt).toBeLessThanOrEqual(Math.max(0, nextRetry - backAt) + 3_000);
    expect(await s.managedRoles()).toEqual([]);
    const ended = s.rows<{ state: string }>('SELECT state FROM requests');
    expect(ended.every((row) => row.state === 'expired')).toBe(true);
    expect(ids).toHaveLength(count);
  });
});
