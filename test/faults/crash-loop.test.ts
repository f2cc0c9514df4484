// Grant/revoke cycles through Slack while the Latch process is SIGKILLed at random moments
// and started again. Afterwards nothing is held that the store says is gone, nothing is
// active past its expiry, every approval Latch confirmed took effect, and the audit chain
// verifies.
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../storage/open-store.js';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import { eventually } from '../support/harness.js';
import { FAULT_TIMEOUT_MS, SCALE } from './support/fault-scale.js';
import { createFaultStack, engineerId, LEAD, requestIdIn, type FaultStack, type Sent } from './support/fault-stack.js';

let stack: FaultStack | undefined;
afterAll(async () => stack?.close());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number): number => low + Math.floor(Math.random() * (high - low));
const textOf = (body: unknown): string => JSON.stringify(body ?? {});
const stateOf = (s: FaultStack, id: string): string => s.rows<{ state: string }>('SELECT state FROM requests WHERE id = ?', id)[0]?.state ?? 'missing';

/**
 * What a person does when Slack shows no answer: try again. Returns the answer Latch
 * finally posted, or null when none came within `withinMs`.
 */
async function untilAnswered(s: FaultStack, send: () => Promise<Sent>, withinMs = 60_000): Promise<unknown> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (!s.latch) {
      await sleep(200);
      continue;
    }
    const sent = await send();
    if (sent.status !== 200) {
      await sleep(200);
      continue;
    }
    const answer = await s.answer(sent.responseUrl, 4_000);
    if (answer) return answer.body;
  }
  return null;
}

describe('crash loop', () => {
  it(`keeps every grant and revocation exactly once across ${SCALE.crashCycles} cycles and random SIGKILLs`, { timeout: FAULT_TIMEOUT_MS }, async () => {
    const s = await createFaultStack({ engineers: SCALE.crashCycles });
    stack = s;
    await s.start();

    // A quarter of the cycles get a SIGKILL at a random moment after they start (while the
    // command is acknowledged, the grant runs, or a revoke is due), then Latch comes back.
    let kills = 0;
    let restarting: Promise<void> | null = null;
    const maybeKill = (): void => {
      if (restarting || Math.random() >= 0.25) return;
      restarting = (async () => {
        await sleep(between(0, 400));
        await s.kill();
        kills += 1;
        await s.start();
      })().finally(() => { restarting = null; });
    };

    const requested = new Set<string>();
    const approvalsConfirmed = new Set<string>();
    const unanswered: string[] = [];
    let next = 0;
    const cycle = async (): Promise<void> => {
      while (next < SCALE.crashCycles) {
        const index = next;
        next += 1;
        const needsApproval = index % 2 === 1;
        const text = `request app ${needsApproval ? 'write' : 'read'} for ${between(2, 6)}s because crash loop ${index}`;
        maybeKill();
        const answer = await untilAnswered(s, () => s.command(engineerId(index), text));
        const id = requestIdIn({ url: '', at: 0, body: (answer ?? {}) as Record<string, unknown> });
        if (!id) {
          unanswered.push(`${engineerId(index)}: ${textOf(answer)}`);
          continue;
        }
        requested.add(id);
        if (needsApproval) {
          const decision = await untilAnswered(s, () => s.click(LEAD.id, 'latch.approve', id));
          if (/approved/i.test(textOf(decision))) approvalsConfirmed.add(id);
        }
        // The next cycle starts once this one's access is in the backend, so kills land mid-grant and mid-revoke.
        await eventually(() => ['active', 'revoking', 'expired'].includes(stateOf(s, id)), `${id} to be granted`, 30_000).catch((error: unknown) => {
          throw new Error(`${String(error)}: ${stateOf(s, id)}, jobs ${JSON.stringify(s.rows('SELECT kind, state, attempts, claimed_by, lease_until - ? AS lease_left, run_at - ? AS due_in, last_error FROM jobs WHERE request_id = ?', Date.now(), Date.now(), id))}`);
        });
      }
    };
    await Promise.all([cycle(), cycle(), cycle()]);
    await restarting;
    if (!s.latch) await s.start();

    expect(unanswered).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(Math.floor(SCALE.crashCycles / 10));
    expect(approvalsConfirmed.size).toBeGreaterThan(0);

    // Once Latch stays up, everything left over finishes: grants that were due are granted,
    // expiries that passed while it was down are revoked.
    await eventually(() => {
      const open = s.rows<{ n: number }>("SELECT count(*) AS n FROM requests WHERE state NOT IN ('expired', 'denied', 'cancelled', 'timed_out', 'failed', 'revoked')")[0]?.n;
      return open === 0;
    }, 'every request to have ended', 60_000);
    const now = Date.now();
    const overdue = s.grants().filter((grant) => grant.revoked_at === null && grant.state !== 'failed' && (grant.expires_at ?? Infinity) < now - 5_000);
    expect(overdue).toEqual([]);
    await eventually(async () => (await s.managedRoles()).length === 0, 'every role Latch made to be gone from PostgreSQL', 20_000);

    const rows = s.rows<{ id: string; state: string; decisions: number }>(
      "SELECT r.id, r.state, (SELECT count(*) FROM decisions d WHERE d.request_id = r.id AND d.verdict = 'approve') AS decisions FROM requests r");
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const id of requested) expect(byId.has(id), `request ${id} that Latch answered is in the store`).toBe(true);
    for (const id of approvalsConfirmed) {
      expect(byId.get(id)?.decisions, `the confirmed approval of ${id}`).toBe(1);
      expect(byId.get(id)?.state).toBe('expired');
    }
    // A request that was approved reached the backend exactly once and left it exactly once.
    const events = s.rows<{ type: string; request_id: string; grant: string | null }>(
      "SELECT type, request_id, json_extract(data, '$.grant') AS grant FROM audit_events WHERE type IN ('grant.granted', 'grant.revoked')");
    const count = (type: string, grant: string): number => events.filter((event) => event.type === type && event.grant === grant).length;
    for (const grant of s.grants()) {
      if (grant.state === 'failed') continue;
      expect(count('grant.granted', grant.id), `grant ${grant.id} granted once`).toBe(1);
      expect(count('grant.revoked', grant.id), `grant ${grant.id} revoked once`).toBe(1);
    }

    await s.stop();
    const store = await openStore(`sqlite:${s.dbFile}`);
    try {
      const verified = await verifyStoreAudit(store);
      expect(verified.ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
