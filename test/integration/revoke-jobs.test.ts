import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { PostgresProvisioner } from '../../provisioners/postgres.js';
import type { RevokeInput } from '../../provisioners/provisioner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { eventually } from '../support/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { RecordingNotifier } from '../support/recording-notifier.js';
import { createPostgresDatabase, STORE_DIALECTS, type StoreDialect } from '../support/test-store.js';

// The revoke job against a real PostgreSQL: grants that expire together are revoked in
// shared batches, and a person's own login role (existing_role mode) keeps the group roles
// their other active requests still need.

/** The real provisioner, counting how the job runner hands it revokes. */
class CountingPostgresProvisioner extends PostgresProvisioner {
  readonly batches: number[] = [];
  singles = 0;

  override async revokeMany(inputs: readonly RevokeInput[], options?: { batchSize?: number }) {
    this.batches.push(inputs.length);
    return super.revokeMany(inputs, options);
  }

  override async revoke(input: RevokeInput): Promise<void> {
    this.singles += 1;
    return super.revoke(input);
  }
}

let db: TestDatabase;
let latch: RunningLatch;
let dir: string;
let provisioner: CountingPostgresProvisioner;
const notifier = new RecordingNotifier();
/** Latch's clock runs ahead of the wall clock by this much, so a test can make an hour pass. */
let offset = 0;
/** One person per grant in the mass expiry: nobody asks twice for access they hold. */
const PEOPLE = Array.from({ length: 40 }, (_, index) => `dev${index}@example.com`);
let personalRole: string;
let sharedRole: string;
/** Latch's own store, when it is PostgreSQL too. */
let storeDatabase: { url: string; drop(): Promise<void> } | null = null;

function config(database: TestDatabase): string {
  return `version: 1
settings: { instance: ${database.instance}, expiryWarning: 1s }
groups:
  - { name: devs, members: [carol@example.com, ${PEOPLE.join(', ')}] }
integrations:
  - name: pg
    type: postgresql
    connection: { host: 127.0.0.1, port: 5432, user: postgres, database: postgres, instance: ${database.instance} }
    credentials: { none: true }
    owner: owner@example.com
    resources:
      - name: app
        settings: { databases: [${database.database}] }
        permissions:
          read: { roles: [${database.readRole}] }
      - name: own
        settings:
          database: ${database.database}
          mode: existing_role
          existingRoles: { carol@example.com: ${personalRole} }
        permissions:
          read: { roles: [${database.readRole}, ${sharedRole}] }
          write: { roles: [${database.writeRole}, ${sharedRole}] }
flows:
  - name: self-service
    requesters: [group:devs]
    access: [{ integration: pg, resources: any, permissions: [read, write] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
`;
}

async function setUp(dialect: StoreDialect): Promise<void> {
  offset = 0;
  db = await createTestDatabase();
  personalRole = `${db.prefix}_carol`;
  sharedRole = `${db.prefix}_shared`;
  await db.query(`CREATE ROLE "${personalRole}" LOGIN`);
  await db.query(`CREATE ROLE "${sharedRole}" NOLOGIN`);
  dir = mkdtempSync(join(tmpdir(), 'latch-revoke-jobs-'));
  storeDatabase = dialect === 'postgres' ? await createPostgresDatabase('latch_revoke_store') : null;
  const file = join(dir, 'latch.yaml');
  writeFileSync(file, config(db));
  const registry = new ProvisionerRegistry({});
  registry.registerType('postgresql', (integration, env) => {
    provisioner = new CountingPostgresProvisioner(integration, env);
    return provisioner;
  });
  latch = await startLatch({
    configFile: file, databaseUrl: storeDatabase?.url ?? `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), notifier, env: {}, provisioners: registry, runner: { sweep: '*/1 * * * * *' },
    now: () => Date.now() + offset,
  });
}

async function tearDown(): Promise<void> {
  await latch?.stop();
  await db?.cleanup();
  await storeDatabase?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

async function activeRequest(email: string, resource: string, permission: string, durationMs?: number): Promise<string> {
  const created = await requestAccess(latch.ctx, { email, via: 'test' }, { resource: `pg/${resource}`, permission, ...(durationMs ? { durationMs } : {}) });
  if (!created.ok) throw new Error(created.message);
  return created.record.request.id;
}

describe.each(STORE_DIALECTS)('the revoke job on a real PostgreSQL (%s store)', (dialect) => {
  beforeAll(() => setUp(dialect));
  afterAll(tearDown);

  it('revokes grants that expire together in shared batches, every role gone, every request expired', async () => {
    const count = 40;
    const ids: string[] = [];
    for (let index = 0; index < count; index += 1) ids.push(await activeRequest(PEOPLE[index] ?? '', 'app', 'read', 3_600_000));
    await eventually(async () => {
      const states = await Promise.all(ids.map(async (id) => (await latch.store.getRequest(id))?.request.state));
      return states.every((state) => state === 'active');
    }, 'every grant to be active', 20_000);
    const principals = await Promise.all(ids.map(async (id) => (await latch.store.getRequest(id))?.grants[0]?.principal ?? ''));
    expect(new Set(principals).size).toBe(count);

    // An hour passes at once: every expiry is due in the same instant.
    offset += 3_700_000;
    latch.ctx.wake();

    await eventually(async () => {
      const states = await Promise.all(ids.map(async (id) => (await latch.store.getRequest(id))?.request.state));
      return states.every((state) => state === 'expired');
    }, 'every grant to expire', 30_000);
    expect(await db.rolesStartingWith(`${db.instance}_dev`)).toEqual([]);
    // The runner works on expiries side by side; they met in the batcher.
    expect(provisioner.batches.reduce((sum, size) => sum + size, 0)).toBe(count);
    expect(Math.max(...provisioner.batches)).toBeGreaterThan(1);
    for (const id of ids) {
      const audit = (await latch.store.auditEvents({ requestId: id })).map((event) => event.type);
      expect(audit.slice(-2)).toEqual(['grant.revoked', 'request.expired']);
    }
  });

  it('leaves the group roles another active request of the same person still needs on their own role', async () => {
    const read = await activeRequest('carol@example.com', 'own', 'read');
    const write = await activeRequest('carol@example.com', 'own', 'write');
    await eventually(async () => (await latch.store.getRequest(read))?.request.state === 'active' && (await latch.store.getRequest(write))?.request.state === 'active', 'both grants to be active');
    expect((await db.role(personalRole))?.memberOf).toEqual([db.readRole, db.writeRole, sharedRole].sort());

    const revoked = await revokeAccess(latch.ctx, { email: 'carol@example.com', via: 'test' }, read);
    expect(revoked.ok).toBe(true);
    await eventually(async () => (await latch.store.getRequest(read))?.request.state === 'revoked', 'the read grant to be revoked');
    // read's own role goes; the role both permissions name stays for write.
    expect((await db.role(personalRole))?.memberOf).toEqual([db.writeRole, sharedRole].sort());

    await revokeAccess(latch.ctx, { email: 'carol@example.com', via: 'test' }, write);
    await eventually(async () => (await latch.store.getRequest(write))?.request.state === 'revoked', 'the write grant to be revoked');
    expect((await db.role(personalRole))?.memberOf).toEqual([]);
    expect(await db.role(personalRole)).toMatchObject({ canLogin: true }); // the person's own role stays
  });
});
