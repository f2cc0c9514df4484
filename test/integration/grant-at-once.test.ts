// An approval starts its grant at once (handlers/start-at-once.ts): the decision's own commit
// claims the grant job for the running job runner and moves the request on to granting, so the
// grant goes to the backend when the commit returns, with no claim of the runner's in between.
// The approval's notifications wait for the credentials (jobs/runner.ts, heldForGrant), for at
// most a moment, and a runner that is not running leaves the grant to its next claim.
import { afterEach, describe, expect, it } from 'vitest';
import { runButton, type CommandReply } from '../../bot/command-runner.js';
import { activateAccess } from '../../handlers/activate.js';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import { createHarness, eventually, type Harness, type HarnessOptions } from '../support/harness.js';
import { HeldProvisioner } from '../support/held-provisioner.js';
import { STORE_DIALECTS } from '../support/test-store.js';

const HOUR = 3_600_000;

const config = `version: 1
settings: { admins: [sec@example.com] }
groups:
  - { name: devs, members: [dev@example.com] }
integrations:
  - name: db
    type: postgresql
    owner: sec@example.com
    connection: { database: app }
    resources:
      - { name: orders, permissions: [read] }
flows:
  - name: reviewed
    requesters: [group:devs]
    access:
      - { integration: db, resources: any, permissions: [read] }
    approval: { steps: [{ approvers: [sec@example.com] }] }
    duration: { default: 1h, max: 8h }
    justification: optional
  - name: on-click
    requesters: [group:devs]
    access:
      - { integration: db, resources: any, permissions: [read] }
    approval: { autoApprove: true }
    activation: on_click
    activationWindow: 2h
    duration: { default: 1h, max: 8h }
    justification: optional
`;

let harness: Harness;
afterEach(async () => harness?.close());

async function start(dialect: (typeof STORE_DIALECTS)[number], options: HarnessOptions = {}): Promise<{ h: Harness; backend: HeldProvisioner }> {
  harness = await createHarness(config, { dialect, ...options });
  const backend = new HeldProvisioner('grant');
  harness.ctx.provisioners.use('db', backend);
  return { h: harness, backend };
}

async function pendingRequest(h: Harness): Promise<string> {
  const created = await requestAccess(h.ctx, h.as('dev@example.com'), { resource: 'db/orders', permission: 'read', durationMs: HOUR, flow: 'reviewed' });
  if (!created.ok) throw new Error(created.message);
  return created.record.request.id;
}

describe.each(STORE_DIALECTS)('an approval starts its grant at once (%s store)', (dialect) => {
  it('claims the grant in the decision\'s commit, moves the request to granting there, and tells of the approval after the credentials', async () => {
    // No sweep: only what the approval itself sets going runs.
    const { h, backend } = await start(dialect, { startRunner: true, runner: { holdForGrantMs: 60_000, sweep: '0 0 1 1 *' } });
    const id = await pendingRequest(h);
    await eventually(() => h.notifier.events(id).includes('approval_requested'), 'the approval card');
    const before = (await h.store.getRequest(id))?.request.version ?? -1;

    const decided = await decide(h.ctx, h.as('sec@example.com'), id, 'approve');
    expect(decided).toMatchObject({ ok: true, result: 'approved' });
    await eventually(() => backend.waiting === 1, 'the grant to reach the backend');

    // What the decision committed: the request is granting, its expiry and principal fixed, and
    // the grant job is running under the runner's claim, on its first attempt.
    const record = await h.store.getRequest(id);
    if (!record) throw new Error('request gone');
    expect(record.request.state).toBe('granting');
    // One write since the request was pending: the decision's (the grant job wrote nothing yet).
    expect(record.request.version).toBe(before + 1);
    expect(record.request.decidedBy).toBe('sec@example.com');
    const { expiresAt, decidedAt } = record.request;
    if (expiresAt === null || decidedAt === null) throw new Error('no expiry or decision time');
    expect(expiresAt - decidedAt).toBeGreaterThanOrEqual(HOUR);
    expect(expiresAt - decidedAt).toBeLessThan(HOUR + 1_000);
    expect(record.grants[0]?.principal).toMatch(/^latch_dev_[a-z0-9]{6}$/);
    const grantJobs = (await h.store.jobsFor(id)).filter((job) => job.kind === 'grant');
    expect(grantJobs).toMatchObject([{ state: 'running', attempts: 1, claimedBy: expect.stringMatching(/^test-/) }]);
    expect((await h.store.auditEvents({ requestId: id })).map((event) => event.type)).toEqual(['request.created', 'request.approved']);
    // The approval's notification waits while the credentials are on their way: not even claimed
    // (a claim is a commit, on SQLite an fsync on the event loop the grant's round trips share).
    expect(h.notifier.events(id)).not.toContain('approved');
    expect((await h.store.jobsFor(id)).filter((job) => job.kind === 'notify' && job.payload.event === 'approved')).toMatchObject([{ state: 'pending', attempts: 0 }]);

    backend.letGo();
    await eventually(async () => (await h.store.getRequest(id))?.request.state === 'active', 'the access to be active');
    await eventually(() => h.notifier.events(id).includes('granted'), 'the granted notification');
    const told = h.notifier.sequence.filter((entry) => entry.endsWith(id) && !entry.startsWith('notify:submitted') && !entry.startsWith('notify:approval_requested'));
    expect(told).toEqual([`credentials:${id}`, `notify:approved:${id}`, `notify:granted:${id}`]);
    // The principal the backend got is the one the decision chose; the grant ran once.
    expect([...backend.held.values()]).toMatchObject([{ requestId: id, principal: record.grants[0]?.principal, expiresAt }]);
    expect((await h.store.jobsFor(id)).filter((job) => job.kind === 'grant')).toMatchObject([{ state: 'done', attempts: 1 }]);
    expect((await h.store.auditEvents({ requestId: id })).map((event) => event.type)).toEqual(['request.created', 'request.approved', 'grant.granted']);
    expect(await verifyStoreAudit(h.store)).toMatchObject({ ok: true });
  });

  it('tells of the approval after a moment when the grant takes longer, while the grant still runs', async () => {
    const { h, backend } = await start(dialect, { startRunner: true, runner: { holdForGrantMs: 300 } });
    const id = await pendingRequest(h);
    await eventually(() => h.notifier.events(id).includes('approval_requested'), 'the approval card');
    expect(await decide(h.ctx, h.as('sec@example.com'), id, 'approve')).toMatchObject({ ok: true });
    await eventually(() => h.notifier.events(id).includes('approved'), 'the approved notification');
    expect(backend.waiting).toBe(1);
    expect((await h.store.getRequest(id))?.request.state).toBe('granting');
    expect(h.notifier.deliveries).toEqual([]);

    backend.letGo();
    await eventually(async () => (await h.store.getRequest(id))?.request.state === 'active', 'the access to be active');
    expect(h.notifier.deliveries.map((delivery) => delivery.record.request.id)).toEqual([id]);
  });

  it('answers the approver once the grant it started has ended, or after a moment when it takes longer', async () => {
    const { h, backend } = await start(dialect, { startRunner: true, runner: { holdForGrantMs: 60_000 } });
    const id = await pendingRequest(h);
    await eventually(() => h.notifier.events(id).includes('approval_requested'), 'the approval card');
    let answered: CommandReply | null = null;
    const answer = runButton(h.ctx, h.as('sec@example.com'), 'approve', id).then((reply) => { answered = reply; });
    await eventually(() => backend.waiting === 1, 'the grant to reach the backend');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Decided and committed, but the approver hears of it only once the grantee has the credentials.
    expect((await h.store.getRequest(id))?.request.state).toBe('granting');
    expect(answered).toBeNull();
    backend.letGo();
    await answer;
    expect(answered).toEqual({ kind: 'text', text: `You approved ${id}.` });
    expect(h.notifier.deliveries.map((delivery) => delivery.record.request.id)).toEqual([id]);
    expect((await h.store.getRequest(id))?.request.state).toBe('active');

    // A grant that takes longer holds the answer for holdForGrantMs at most.
    await harness.close();
    const slow = await start(dialect, { startRunner: true, runner: { holdForGrantMs: 200 } });
    const second = await pendingRequest(slow.h);
    await eventually(() => slow.h.notifier.events(second).includes('approval_requested'), 'the approval card');
    expect(await runButton(slow.h.ctx, slow.h.as('sec@example.com'), 'approve', second)).toEqual({ kind: 'text', text: `You approved ${second}.` });
    expect(slow.backend.waiting).toBe(1);
    expect(slow.h.notifier.deliveries).toEqual([]);
    slow.backend.letGo();
    await eventually(async () => (await slow.h.store.getRequest(second))?.request.state === 'active', 'the access to be active');
  });

  it('starts an activated grant at once too, its duration counted from the click', async () => {
    const { h, backend } = await start(dialect, { startRunner: true });
    const created = await requestAccess(h.ctx, h.as('dev@example.com'), { resource: 'db/orders', permission: 'read', durationMs: HOUR, flow: 'on-click' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    expect(created.record.request.state).toBe('ready');
    h.advance(10 * 60_000);
    const before = (await h.store.getRequest(id))?.request.version ?? -1;
    const clickedAt = h.ctx.now();
    expect(await activateAccess(h.ctx, h.as('dev@example.com'), id)).toMatchObject({ ok: true });
    await eventually(() => backend.waiting === 1, 'the grant to reach the backend');
    const record = await h.store.getRequest(id);
    expect(record?.request.state).toBe('granting');
    expect(record?.request.version).toBe(before + 1);
    expect((record?.request.expiresAt ?? 0) - clickedAt).toBeGreaterThanOrEqual(HOUR);
    expect((await h.store.jobsFor(id)).filter((job) => job.kind === 'grant')).toMatchObject([{ state: 'running', attempts: 1 }]);
    backend.letGo();
    await eventually(async () => (await h.store.getRequest(id))?.request.state === 'active', 'the access to be active');
  });

  it('leaves the grant to the runner\'s next claim when no runner is running: the request waits approved', async () => {
    const { h, backend } = await start(dialect);
    backend.letGo();
    const id = await pendingRequest(h);
    await h.drain();
    expect(await decide(h.ctx, h.as('sec@example.com'), id, 'approve')).toMatchObject({ ok: true });
    expect((await h.store.getRequest(id))?.request.state).toBe('approved');
    expect((await h.store.jobsFor(id)).filter((job) => job.kind === 'grant')).toMatchObject([{ state: 'pending', attempts: 0, claimedBy: null }]);
    await h.drain();
    expect((await h.store.getRequest(id))?.request.state).toBe('active');
    expect(h.notifier.deliveries.map((delivery) => delivery.record.request.id)).toEqual([id]);
  });
});
