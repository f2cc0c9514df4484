import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { eventually } from '../support/harness.js';
import { ENTRA_AUTHORITY, fakeEntraLogin, fakeGraphRead, type GraphUser } from '../support/identity-fakes.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_SECRET = 'entra-client-secret-value-0123456789';
let db: TestDatabase;
let latch: RunningLatch;
let dir: string;
const notifier = new RecordingNotifier();
const login = { posts: [] as URLSearchParams[] };

const person = (id: string, name: string, accountEnabled = true, manager?: string): GraphUser => ({
  id, mail: `${name}@example.com`, displayName: name, accountEnabled, ...(manager ? { manager: { id: `id-${manager}`, mail: `${manager}@example.com` } } : {}),
});
const DBAS = { id: '3f2b1c4d-0000-4000-8000-00000000dba5', displayName: 'Database Admins' };

function config(database: TestDatabase): string {
  return `version: 1
settings: { instance: ${database.instance}, admins: [sec@example.com] }
identitySources:
  - type: entra
    tenantId: ${TENANT}
    clientId: 6b1f3c2e-1111-4222-8333-444455556666
    clientSecret: { env: ENTRA_CLIENT_SECRET }
    authorityHost: ${ENTRA_AUTHORITY}
    syncEvery: 1h
    # One leaver of four is 25%: a small tenant needs a higher share than the default 20%.
    maxDisableShare: 30%
groups:
  - { name: dbas, members: ["entra:Database Admins"] }
integrations:
  - name: pg
    type: postgresql
    connection: { host: 127.0.0.1, port: 5432, user: postgres, database: postgres }
    credentials: { none: true }
    owner: owner@example.com
    resources:
      - name: app
        settings: { databases: [${database.database}] }
        permissions:
          read: { roles: [${database.readRole}] }
          write: { roles: [${database.writeRole}] }
flows:
  - name: read
    requesters: [group:dbas]
    access: [{ integration: pg, resources: any, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
  - name: write
    requesters: [group:dbas]
    access: [{ integration: pg, resources: any, permissions: [write] }]
    approval: { steps: [{ approvers: [manager] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`;
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  Object.assign(login, fakeEntraLogin(TENANT));
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'latch-entra-'));
  writeFileSync(join(dir, 'latch.yaml'), config(db));
  // The start-up sync reads the tenant once, before any test runs.
  fakeGraphRead([person('id-alice', 'alice', true, 'carol'), person('id-carol', 'carol'), person('id-dave', 'dave', true, 'carol'), person('id-erin', 'erin')], [{ ...DBAS, members: ['id-alice', 'id-dave', 'id-erin'] }], { throttleSecondPage: true });
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), notifier, env: { ENTRA_CLIENT_SECRET: CLIENT_SECRET }, runner: { sweep: '*/1 * * * * *' },
  });
  await eventually(async () => (await latch.store.identitySnapshots?.syncs())?.some((sync) => sync.lastSuccessAt !== null) ?? false, 'the start-up sync', 15_000);
});

afterAll(async () => {
  await latch?.stop();
  await db?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('Microsoft Entra ID as an identity source', () => {
  it('reads every page of users and group members through a 429, with a client-credentials Graph token', async () => {
    expect(login.posts.at(0)?.get('grant_type')).toBe('client_credentials');
    expect(login.posts.at(0)?.get('scope')).toBe('https://graph.microsoft.com/.default');
    const { directory } = latch.ctx.current();
    expect([...directory.membersOf('dbas')].sort()).toEqual(['alice@example.com', 'dave@example.com', 'erin@example.com']);
    expect(directory.managerOf('alice@example.com')).toBe('carol@example.com');
    expect(directory.displayName('dave@example.com')).toBe('dave');
    const syncs = await latch.store.identitySnapshots?.syncs();
    expect(syncs).toEqual([expect.objectContaining({ source: 'entra', people: 4, groups: 1, lastError: null })]);
  });

  it('lets a member of the Entra group request, and makes the Entra manager the approver', async () => {
    const refused = await requestAccess(latch.ctx, { email: 'carol@example.com', via: 'test' }, { resource: 'app', permission: 'read' });
    expect(refused).toMatchObject({ ok: false });
    const created = await requestAccess(latch.ctx, { email: 'dave@example.com', via: 'test' }, { resource: 'app', permission: 'write' });
    if (!created.ok) throw new Error(created.message);
    expect(await decide(latch.ctx, { email: 'erin@example.com', via: 'test' }, created.record.request.id, 'approve')).toMatchObject({ ok: false, reason: 'not_an_approver' });
    expect(await decide(latch.ctx, { email: 'carol@example.com', via: 'test' }, created.record.request.id, 'approve')).toMatchObject({ ok: true, result: 'approved' });
    await eventually(async () => (await latch.store.getRequest(created.record.request.id))?.request.state === 'active', 'dave\'s write grant');
  });

  it('revokes a disabled person\'s PostgreSQL grant within one sync, cancels their pending request and records why', async () => {
    const read = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'app', permission: 'read' });
    if (!read.ok) throw new Error(read.message);
    await eventually(async () => (await latch.store.getRequest(read.record.request.id))?.request.state === 'active', 'alice\'s read grant');
    const principal = (await latch.store.getRequest(read.record.request.id))?.grants[0]?.principal ?? '';
    expect(await db.role(principal)).toMatchObject({ canLogin: true });
    const pending = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'app', permission: 'write' });
    if (!pending.ok) throw new Error(pending.message);
    expect(pending.record.request.state).toBe('pending');

    fakeGraphRead([person('id-alice', 'alice', false, 'carol'), person('id-carol', 'carol'), person('id-dave', 'dave', true, 'carol'), person('id-erin', 'erin')], [{ ...DBAS, members: ['id-alice', 'id-dave', 'id-erin'] }]);
    const outcomes = await latch.ctx.identities?.sync();
    expect(outcomes).toEqual([expect.objectContaining({ source: 'entra', status: 'applied', leavers: [{ email: 'alice@example.com', source: 'entra', id: 'id-alice', reason: 'disabled' }] })]);

    await eventually(async () => (await latch.store.getRequest(read.record.request.id))?.request.state === 'revoked', 'alice\'s grant to be revoked');
    expect(await db.role(principal)).toBeNull();
    const cancelled = await latch.store.getRequest(pending.record.request.id);
    expect(cancelled?.request).toMatchObject({ state: 'cancelled', endedBy: 'latch', outcome: 'entra reports alice@example.com disabled' });
    const revokedAudit = (await latch.store.auditEvents({ requestId: read.record.request.id })).find((event) => event.type === 'request.revoke_requested');
    expect(revokedAudit).toMatchObject({ actor: 'latch', data: { via: 'identity', comment: 'entra reports alice@example.com disabled', leaver: 'alice@example.com' } });
    const departed = (await latch.store.auditEvents({})).filter((event) => event.type === 'identity.departed');
    expect(departed.map((event) => event.data)).toEqual([{ email: 'alice@example.com', source: 'entra', id: 'id-alice', reason: 'disabled' }]);
    expect([...latch.ctx.current().directory.membersOf('dbas')]).not.toContain('alice@example.com');
    expect(await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'app', permission: 'read' })).toMatchObject({ ok: false });
  });

  it('holds an answer that disables most of the tenant, applies nothing and records it; the source\'s health shows it', async () => {
    const before = (await latch.store.listRequests({ states: ['active'] })).map((record) => record.request.id);
    expect(before.length).toBeGreaterThan(0);
    // A broken answer: most people disabled, one missing.
    fakeGraphRead([person('id-carol', 'carol', false), person('id-dave', 'dave', false, 'carol')], [{ ...DBAS, members: ['id-dave'] }]);
    const outcomes = await latch.ctx.identities?.sync('entra');
    expect(outcomes).toEqual([expect.objectContaining({ source: 'entra', status: 'held', message: expect.stringContaining('3 of 3 active people disabled or gone (100%, more than maxDisableShare 30%)') })]);
    expect((await latch.store.listRequests({ states: ['active'] })).map((record) => record.request.id)).toEqual(before);
    expect([...latch.ctx.current().directory.membersOf('dbas')].sort()).toEqual(['dave@example.com', 'erin@example.com']);
    const held = (await latch.store.auditEvents({})).filter((event) => event.type === 'identity.sync_held');
    expect(held.at(-1)?.data).toMatchObject({ source: 'entra', wouldDisable: 3, activeBefore: 3 });

    const details = await (await fetch(`http://127.0.0.1:${latch.port}/healthz?details=1`)).json() as { identitySources: { source: string; lastSuccessAt: string | null; held: string | null }[] };
    expect(details.identitySources).toEqual([expect.objectContaining({ source: 'entra', type: 'entra', people: 4, held: expect.stringContaining('held') })]);
    expect(details.identitySources[0]?.lastSuccessAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const metrics = await (await fetch(`http://127.0.0.1:${latch.port}/metrics`)).text();
    expect(metrics).toMatch(/latch_identity_source_last_success_timestamp_seconds\{source="entra",type="entra"\} \d{10}/);
    expect(metrics).toContain('latch_identity_source_held{source="entra",type="entra"} 1');
  });

  it('never replaces the last good snapshot with the answer of a failing call', async () => {
    nock('https://graph.microsoft.com').get('/v1.0/users').query(true).reply(503, { error: { code: 'serviceNotAvailable' } }, { 'Retry-After': '120' });
    const outcomes = await latch.ctx.identities?.sync('entra');
    expect(outcomes).toEqual([expect.objectContaining({ status: 'failed', error: expect.stringContaining('answered 503') })]);
    expect([...latch.ctx.current().directory.membersOf('dbas')].sort()).toEqual(['dave@example.com', 'erin@example.com']);
    const logged = JSON.stringify(await latch.store.auditEvents({}));
    expect(logged).not.toContain(CLIENT_SECRET);
    expect(logged).not.toContain('graph-token-for-latch');
  });
});
