import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { eventually } from '../support/harness.js';
import { connectAs, createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

let db: TestDatabase;
let latch: RunningLatch;
let dir: string;
const notifier = new RecordingNotifier();

function config(database: TestDatabase): string {
  return `version: 1
settings: { instance: ${database.instance}, expiryWarning: 1s }
groups:
  - { name: devs, members: [alice@example.com, bob@example.com] }
integrations:
  - name: pg
    type: postgresql
    connection: { host: 127.0.0.1, port: 5432, user: postgres, database: postgres }
    credentials: { none: true }
    owner: owner@example.com
    accessDetails: "psql -h {{host}} -p {{port}} -U {{username}} {{database}}"
    resources:
      - name: app
        settings: { databases: [${database.database}] }
        permissions:
          read: { roles: [${database.readRole}] }
          write: { roles: [${database.writeRole}] }
flows:
  - name: read
    requesters: [group:devs]
    access: [{ integration: pg, resources: any, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
  - name: write
    requesters: [group:devs]
    access: [{ integration: pg, resources: any, permissions: [write] }]
    approval: { steps: [{ approvers: [owner@example.com] }] }
    duration: { default: 1h, max: 4h }
`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'latch-pg-life-'));
  writeFileSync(join(dir, 'latch.yaml'), config(db));
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), notifier, env: {}, runner: { sweep: '*/1 * * * * *' },
  });
});

afterAll(async () => {
  await latch?.stop();
  await db?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the life cycle against a real PostgreSQL', () => {
  it('grants a login role in the read group on approval, and drops it at expiry', async () => {
    const created = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'app', permission: 'read', durationMs: 3_000 });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    const record = await latch.store.getRequest(id);
    const principal = record?.grants[0]?.principal ?? '';
    expect(principal).toMatch(new RegExp(`^${db.instance}_alice_[a-z0-9]{6}$`));

    const delivered = notifier.deliveries.find((delivery) => delivery.record.request.id === id)?.items[0];
    expect(delivered?.details).toBe(`psql -h 127.0.0.1 -p 5432 -U ${principal} ${db.database}`);
    const password = delivered?.secrets.password ?? '';
    expect(password.length).toBeGreaterThanOrEqual(22);
    const session = await connectAs({ user: principal, password, database: db.database });
    expect((await session.query('SELECT note FROM public.items')).rows).toEqual([{ note: 'first' }]);
    await expect(session.query("INSERT INTO public.items (note) VALUES ('nope')")).rejects.toThrow(/permission denied/);
    const facts = await db.role(principal);
    expect(facts).toMatchObject({ canLogin: true });

    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'expired', 'the grant to expire', 8_000);
    expect(await db.role(principal)).toBeNull();
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => {});
    const audit = (await latch.store.auditEvents({ requestId: id })).map((event) => event.type);
    expect(audit).toEqual(['request.created', 'request.approved', 'grant.granted', 'grant.revoked', 'request.expired']);
  });

  it('grants write only after the owner approves', async () => {
    const created = await requestAccess(latch.ctx, { email: 'bob@example.com', via: 'test' }, { resource: 'pg/app', permission: 'write', reason: 'backfill' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    expect(await db.rolesStartingWith(`${db.instance}_bob`)).toEqual([]);
    expect(await decide(latch.ctx, { email: 'owner@example.com', via: 'test' }, id, 'approve')).toMatchObject({ ok: true, result: 'approved' });
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    const principal = (await latch.store.getRequest(id))?.grants[0]?.principal ?? '';
    const session = await connectAs({ user: principal, password: notifier.deliveries.at(-1)?.items[0]?.secrets.password ?? '', database: db.database });
    await session.query("INSERT INTO public.items (note) VALUES ('by bob')");
    await session.end();
    const { revokeAccess } = await import('../../handlers/revoke.js');
    await revokeAccess(latch.ctx, { email: 'bob@example.com', via: 'test' }, id);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'revoked', 'the grant to be revoked');
    expect(await db.role(principal)).toBeNull();
  });
});

describe('reconcile against a real PostgreSQL', () => {
  it('reports a prefixed role made behind Latch\'s back and notices a granted role dropped by hand', async () => {
    const { reconcile } = await import('../../jobs/reconcile.js');
    const created = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'app', permission: 'read' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant to be active');
    const principal = (await latch.store.getRequest(id))?.grants[0]?.principal ?? '';
    const intruder = `${db.instance}_manual_zz9`;
    await db.query(`CREATE ROLE "${intruder}" LOGIN`);
    await db.query(`DROP ROLE "${principal}"`);
    try {
      const { reports } = await reconcile(latch.ctx);
      const report = reports.find((entry) => entry.integration === 'pg');
      expect(report?.unknown).toContain(intruder);
      expect(report?.missing).toEqual([principal]);
      expect(await db.role(intruder)).not.toBeNull(); // reported, never touched: Latch did not make it
    } finally {
      await db.query(`DROP ROLE IF EXISTS "${intruder}"`);
    }
  });
});
