// Several Latch instances, each a process of its own, on one PostgreSQL store, driven
// concurrently with signed Slack requests as a load balancer would spread them: every
// approved request is granted once and revoked once at expiry, a click delivered to two
// instances acts once, and the jobs of an instance killed mid-grant complete on another
// once their lease has ended.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import { PgStore } from '../../storage/postgres/pg-store.js';
import type { AuditEvent, Job } from '../../storage/store.js';
import { eventually } from '../support/harness.js';
import { startLatchProcess, type LatchProcess } from '../support/latch-process.js';
import { asSuperuser } from '../support/postgres.js';
import type { JournalEntry } from '../support/memory-provisioner.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { blockActionsBody, postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';
import { createPostgresDatabase } from '../support/test-store.js';

const SECRET = 'multi-instance-signing-secret-0123456789';
const CHILD = join(import.meta.dirname, '../support/latch-instance-child.ts');
const LEAD = 'ULEAD';
const engineer = (index: number): string => `UENG${index}`;

function config(engineers: number, auditFile: string): string {
  const members = Array.from({ length: engineers }, (_, index) => `eng${index}@example.com`).join(', ');
  return `version: 1
settings:
  admins: [sec@example.com]
auditSinks:
  - { name: archive, type: jsonl, path: ${auditFile}, from: beginning }
groups:
  - { name: engineers, members: [${members}] }
  - { name: leads, members: [lead@example.com] }
integrations:
  - name: orders
    type: postgresql
    owner: group:leads
    connection: { database: orders }
    resources:
      - { name: orders-prod, permissions: [read] }
      - { name: orders-staging, permissions: [read] }
flows:
  - name: prod
    requesters: [group:engineers]
    access: [{ integration: orders, resources: { names: [orders-prod] }, permissions: [read] }]
    approval: { steps: [{ approvers: [group:leads] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
  - name: staging
    requesters: [group:engineers]
    access: [{ integration: orders, resources: { names: [orders-staging] }, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
`;
}

interface Cluster {
  instances: LatchProcess[];
  /** The name of the PostgreSQL database they share. */
  database: string;
  slack: SlackDouble;
  store: PgStore;
  journal(): JournalEntry[];
  /** The seqs the jsonl audit sink received, in the order it received them. */
  streamedSeqs(): number[];
  /** `/access TEXT` as `user`, signed, to instance `at`; the request id from Latch's answer. */
  request(user: string, text: string, at: number): Promise<string>;
  /** One Approve click delivered to each of `at` at the same moment (a retry landing on another instance). */
  approve(id: string, at: readonly number[]): Promise<number[]>;
  /** What the instances that ended on their own (not killed by the test) wrote to stderr. */
  crashes(): string[];
  close(): Promise<void>;
}

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function startCluster(options: { instances: number; engineers: number; leaseMs: number; delayMs: number }): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-multi-'));
  const database = await createPostgresDatabase('latch_multi');
  const configFile = join(dir, 'latch.yaml');
  const auditFile = join(dir, 'audit.jsonl');
  writeFileSync(configFile, config(options.engineers, auditFile));
  const journalFile = join(dir, 'backend.jsonl');
  const slack = await startSlackDouble();
  for (let index = 0; index < options.engineers; index += 1) slack.addUser({ id: engineer(index), name: `eng${index}`, email: `eng${index}@example.com` });
  slack.addUser({ id: LEAD, name: 'lead', email: 'lead@example.com' });
  const env: NodeJS.ProcessEnv = {
    LATCH_CONFIG: configFile, DATABASE_URL: database.url, SLACK_SIGNING_SECRET: SECRET, SLACK_BOT_TOKEN: 'xoxb-multi', SLACK_API_URL: slack.apiUrl,
    LATCH_TEST_JOURNAL: journalFile, LATCH_TEST_DELAY_MS: String(options.delayMs), LATCH_TEST_LEASE_MS: String(options.leaseMs), LOG_LEVEL: 'info',
  };
  // All at once, as a deployment rolls out: they migrate the empty database under the advisory lock.
  const instances = await Promise.all(Array.from({ length: options.instances }, () => startLatchProcess(env, 60_000, [], CHILD)));
  const store = new PgStore({ url: database.url });
  return {
    instances, slack, store, database: database.database,
    streamedSeqs: () => (existsSync(auditFile) ? readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { seq: number }).seq) : []),
    journal: () => (existsSync(journalFile) ? readFileSync(journalFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as JournalEntry) : []),
    async request(user, text, at) {
      const responseUrl = slack.responseUrl();
      const body = slashCommandBody({ userId: user, text, triggerId: slack.issueTrigger(), responseUrl });
      const instance = instances[at % instances.length] as LatchProcess;
      const sent = await postToSlackEvents(instance.base, body, SECRET);
      expect(sent.status).toBe(200);
      const answer = await slack.waitForResponse((post) => post.url === responseUrl, 20_000);
      const id = /AR-[0-9A-Z]{8}/.exec(JSON.stringify(answer.body))?.[0];
      if (!id) throw new Error(`no request id in ${JSON.stringify(answer.body)}`);
      return id;
    },
    async approve(id, at) {
      const body = blockActionsBody({ userId: LEAD, actionId: 'latch.approve', value: id, triggerId: slack.issueTrigger(), responseUrl: slack.responseUrl() });
      const sent = await Promise.all(at.map((index) => postToSlackEvents((instances[index % instances.length] as LatchProcess).base, body, SECRET)));
      return sent.map((answer) => answer.status);
    },
    crashes: () => instances.filter((instance) => instance.child.exitCode !== null).map((instance) => `exit ${String(instance.child.exitCode)}: ${instance.stderr().slice(-2000)}`),
    async close() {
      for (const instance of instances) if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGKILL');
      await Promise.all(instances.map((instance) => instance.exited));
      await store.close();
      await slack.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function requestStates(store: PgStore, ids: readonly string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await store.getRequest(id))?.request.state ?? 'missing'));
}

function eventsOf(events: readonly AuditEvent[], type: string, requestId: string): AuditEvent[] {
  return events.filter((event) => event.type === type && event.requestId === requestId);
}

describe('several Latch instances on one PostgreSQL store', () => {
  it('three instances: every approved request is granted once and revoked once at expiry, a click delivered to two instances acts once', { timeout: 120_000 }, async () => {
    const engineers = 12;
    cluster = await startCluster({ instances: 3, engineers, leaseMs: 5_000, delayMs: 50 });
    const c = cluster;
    // The database drops every connection (a failover, a restart): the instances reconnect on their next query.
    const dropped = await asSuperuser((client) => client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [c.database]));
    expect(dropped.rowCount).toBeGreaterThan(0);
    const ids = await Promise.all(Array.from({ length: engineers }, (_, index) => c.request(engineer(index), `request orders-prod read for 6s because multi ${index}`, index)));
    expect(new Set(ids).size).toBe(engineers);
    // The same click reaches two instances at once (the load balancer retried it elsewhere).
    const statuses = await Promise.all(ids.map((id, index) => c.approve(id, [index, index + 1])));
    expect(statuses.flat().every((status) => status === 200)).toBe(true);

    await eventually(async () => (await requestStates(c.store, ids)).every((state) => state === 'expired'), 'every request to expire', 60_000);

    const events = await c.store.auditEvents({});
    const journal = c.journal();
    for (const id of ids) {
      const record = await c.store.getRequest(id);
      const grant = record?.grants[0];
      if (!grant) throw new Error(`${id} has no grant`);
      expect(record?.decisions).toHaveLength(1);
      expect(eventsOf(events, 'request.approved', id)).toHaveLength(1);
      expect(eventsOf(events, 'grant.granted', id)).toHaveLength(1);
      expect(eventsOf(events, 'grant.revoked', id)).toHaveLength(1);
      // The backend saw one grant and, after it, one revoke (each instance's memory backend is its own, so the effect is not compared).
      expect(journal.filter((entry) => entry.grantId === grant.id).map((entry) => entry.op)).toEqual(['grant', 'revoke']);
      expect(grant.state).toBe('revoked');
      // Revoked at expiry: not before it, and within the sweep's second (plus a loaded machine's slack).
      expect(grant.revokedAt).toBeGreaterThanOrEqual(record?.request.expiresAt ?? Infinity);
      expect((grant.revokedAt ?? 0) - (record?.request.expiresAt ?? 0)).toBeLessThan(5_000);
    }
    // Each requester got their credentials once, in one DM, from whichever instance granted.
    const posts = c.slack.callsTo('chat.postMessage').map((call) => JSON.stringify(call.args));
    for (let index = 0; index < engineers; index += 1) {
      const grantId = (await c.store.getRequest(ids[index] ?? ''))?.grants[0]?.id ?? '?';
      expect(posts.filter((post) => post.includes(`pw-${grantId}-`))).toHaveLength(1);
    }
    const jobs = (await Promise.all(ids.map((id) => c.store.jobsFor(id)))).flat();
    expect(jobs.filter((job) => job.state === 'dead')).toEqual([]);
    expect(jobs.filter((job) => job.kind === 'grant' || job.kind === 'revoke').every((job) => job.state === 'done' && job.attempts === 1)).toBe(true);
    expect(await verifyStoreAudit(c.store)).toMatchObject({ ok: true });
    // One instance at a time streams the sink (its cursor's lease): every event once, in order, whichever instance wrote it.
    const lastSeq = events.at(-1)?.seq ?? 0;
    await eventually(() => c.streamedSeqs().length >= lastSeq, 'the audit sink to catch up', 20_000);
    expect(c.streamedSeqs().slice(0, lastSeq)).toEqual(Array.from({ length: lastSeq }, (_, index) => index + 1));
    expect(c.crashes()).toEqual([]);
  });

  it('an instance killed mid-grant: its claimed jobs complete on the other after their lease, each grant recorded once', { timeout: 120_000 }, async () => {
    const engineers = 8;
    const leaseMs = 3_000;
    // Each backend call takes 1.5 s, so grants are in flight when the instance dies.
    cluster = await startCluster({ instances: 2, engineers, leaseMs, delayMs: 1_500 });
    const c = cluster;
    const [victim, survivor] = c.instances as [LatchProcess, LatchProcess];
    const victimPid = victim.child.pid ?? -1;
    const ids = await Promise.all(Array.from({ length: engineers }, (_, index) => c.request(engineer(index), `request orders-staging read for 8s because takeover ${index}`, index)));
    const heldByVictim = async (): Promise<Job[]> => (await Promise.all(ids.map((id) => c.store.jobsFor(id)))).flat()
      .filter((job) => job.kind === 'grant' && job.state === 'running' && (job.claimedBy ?? '').includes(`#${victimPid}#`));
    await eventually(async () => (await heldByVictim()).length > 0, 'the victim to hold a grant job', 20_000);
    const orphaned = await heldByVictim();
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();

    await eventually(async () => (await requestStates(c.store, ids)).every((state) => state === 'active' || state === 'expired'), 'every request to be granted', 40_000);
    for (const before of orphaned) {
      const after = (await c.store.jobsFor(before.requestId ?? '')).find((job) => job.id === before.id);
      expect(after).toMatchObject({ state: 'done', attempts: 2 });
      expect(after?.claimedBy).toContain(`#${survivor.child.pid ?? -1}#`);
      // Taken over only once the dead instance's lease had run out.
      expect(after?.finishedAt ?? 0).toBeGreaterThanOrEqual(before.leaseUntil ?? Infinity);
      expect((after?.finishedAt ?? 0) - killedAt).toBeLessThan(leaseMs + 15_000);
    }
    await eventually(async () => (await requestStates(c.store, ids)).every((state) => state === 'expired'), 'every request to expire', 60_000);
    const events = await c.store.auditEvents({});
    const journal = c.journal();
    for (const id of ids) {
      const grant = (await c.store.getRequest(id))?.grants[0];
      if (!grant) throw new Error(`${id} has no grant`);
      expect(eventsOf(events, 'grant.granted', id)).toHaveLength(1);
      expect(eventsOf(events, 'grant.revoked', id)).toHaveLength(1);
      const grants = journal.filter((entry) => entry.grantId === grant.id && entry.op === 'grant').length;
      // A grant the kill cut off runs again on the survivor (the backend call is idempotent); it may have reached the backend before the kill.
      if (orphaned.some((job) => job.requestId === id)) expect([1, 2]).toContain(grants);
      else expect(grants).toBe(1);
      expect(journal.filter((entry) => entry.grantId === grant.id && entry.op === 'revoke')).toHaveLength(1);
    }
    expect(await verifyStoreAudit(c.store)).toMatchObject({ ok: true });
    expect(c.crashes()).toEqual([]);
  });
});
