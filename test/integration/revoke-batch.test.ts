// Revoke jobs claimed together run as one batch (jobs/runner.ts, jobs/revoke.ts): their reads
// and commits are shared, yet each job ends as if it ran alone. A slow backend holds back only
// the jobs with grants in it, a person's requests ending in the same batch keep nothing of each
// other, and a request extended just before its old expiry stays active.
import { afterEach, describe, expect, it } from 'vitest';
import { requestAccess } from '../../handlers/request-access.js';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import { createHarness, eventually, type Harness } from '../support/harness.js';
import { HeldProvisioner } from '../support/held-provisioner.js';
import { STORE_DIALECTS } from '../support/test-store.js';

const PEOPLE = Array.from({ length: 30 }, (_, index) => `dev${index}@example.com`);
const HOUR = 3_600_000;

const config = `version: 1
settings: { admins: [sec@example.com], expiryWarning: 1m }
groups:
  - { name: devs, members: [${PEOPLE.join(', ')}] }
integrations:
  - name: fast
    type: postgresql
    owner: sec@example.com
    connection: { database: fast }
    resources:
      - { name: fast-db, permissions: [read, write] }
  - name: slow
    type: postgresql
    owner: sec@example.com
    connection: { database: slow }
    resources:
      - { name: slow-db, permissions: [read] }
flows:
  - name: self-service
    requesters: [group:devs]
    access:
      - { integration: fast, resources: any, permissions: [read, write] }
      - { integration: slow, resources: any, permissions: [read] }
    approval: { autoApprove: true }
    duration: { default: 1h, max: 8h }
    justification: optional
`;

let harness: Harness;
afterEach(async () => harness?.close());

async function active(h: Harness, email: string, resource: string, permission = 'read'): Promise<string> {
  const created = await requestAccess(h.ctx, h.as(email), { resource, permission, durationMs: HOUR });
  if (!created.ok) throw new Error(created.message);
  return created.record.request.id;
}

const stateOf = async (h: Harness, id: string): Promise<string | undefined> => (await h.store.getRequest(id))?.request.state;

describe.each(STORE_DIALECTS)('revoke jobs run as a batch (%s store)', (dialect) => {
  it('ends each job of a batch on its own: the fast backend\'s requests expire while the slow one\'s revoke still runs', async () => {
    harness = await createHarness(config, { dialect, startRunner: true });
    const h = harness;
    const slow = new HeldProvisioner('revoke');
    h.ctx.provisioners.use('slow', slow);
    const fastIds: string[] = [];
    for (const person of PEOPLE.slice(0, 20)) fastIds.push(await active(h, person, 'fast-db'));
    const slowId = await active(h, PEOPLE[20] as string, 'slow-db');
    await eventually(async () => (await Promise.all([...fastIds, slowId].map((id) => stateOf(h, id)))).every((state) => state === 'active'), 'every grant to be active');

    h.advance(HOUR + 1_000);
    h.ctx.wake();
    await eventually(async () => (await Promise.all(fastIds.map((id) => stateOf(h, id)))).every((state) => state === 'expired'), 'the fast backend\'s requests to expire');
    expect(await stateOf(h, slowId)).toBe('revoking');
    expect(slow.waiting).toBe(1);
    expect(h.provisioner.held.size).toBe(0);

    slow.letGo();
    await eventually(async () => (await stateOf(h, slowId)) === 'expired', 'the slow backend\'s request to expire');
    expect(slow.held.size).toBe(0);
    for (const id of [...fastIds, slowId]) {
      expect((await h.store.auditEvents({ requestId: id })).map((event) => event.type).slice(-2)).toEqual(['grant.revoked', 'request.expired']);
      expect((await h.store.jobsFor(id)).filter((job) => job.kind === 'revoke').map((job) => job.state)).toEqual(['done']);
    }
    await eventually(() => [...fastIds, slowId].every((id) => h.notifier.events(id).includes('expired')), 'every requester to hear of the expiry');
    expect(await verifyStoreAudit(h.store)).toMatchObject({ ok: true });
  });

  it('revokes both of a person\'s requests ending in the same batch, and keeps the access of one extended just before', async () => {
    harness = await createHarness(config, { dialect });
    const h = harness;
    const [alice, bob] = PEOPLE as [string, string];
    const read = await active(h, alice, 'fast-db', 'read');
    const write = await active(h, alice, 'fast-db', 'write');
    const kept = await active(h, bob, 'fast-db', 'read');
    await h.drain();
    for (const id of [read, write, kept]) expect(await stateOf(h, id)).toBe('active');

    // bob's access was extended by an hour just before the old expiry: his old expiry job finds nothing due.
    const record = await h.store.getRequest(kept);
    if (!record?.request.expiresAt) throw new Error('no expiry');
    const later = record.request.expiresAt + HOUR;
    expect(await h.store.commit({
      updateRequests: [{ id: kept, expectState: 'active', expectVersion: record.request.version, set: { expiresAt: later } }],
      enqueue: [{ kind: 'revoke', requestId: kept, runAt: later, payload: { reason: 'expired' }, dedupeKey: `revoke:${kept}:expired:later` }],
    })).toEqual({ ok: true });

    h.advance(HOUR + 1_000);
    await h.drain();
    expect(await stateOf(h, read)).toBe('expired');
    expect(await stateOf(h, write)).toBe('expired');
    expect(await stateOf(h, kept)).toBe('active');
    expect([...h.provisioner.held.values()].map((held) => held.requestId)).toEqual([kept]);
    const revokes = h.provisioner.journal.filter((entry) => entry.op === 'revoke');
    expect(revokes.map((entry) => entry.effect)).toEqual(['removed', 'removed']);
    expect((await h.store.jobsFor(kept)).filter((job) => job.kind === 'revoke').map((job) => job.state).sort()).toEqual(['done', 'pending']);

    h.advance(HOUR);
    await h.drain();
    expect(await stateOf(h, kept)).toBe('expired');
    expect(h.provisioner.held.size).toBe(0);
    expect(await verifyStoreAudit(h.store)).toMatchObject({ ok: true });
  });
});
