import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchConfig } from '../../config/schema.js';
import type { ScoredPrincipal } from '../../core/discovery.js';
import { discover, type DiscoveryReport } from '../../handlers/discover.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { asSuperuser, connectAs, randomSuffix } from '../support/postgres.js';

// A cluster with a prepared cast of roles of this run's own (disc<suffix>_...): a superuser,
// a reader nobody uses, a writer connected while the scan samples, an owner of objects, a
// chain a → b → c where only c holds a privilege, and a role Latch manages.

const suffix = randomSuffix(6);
const p = `disc${suffix}`;
const database = `${p}_db`;
const instance = `li${suffix}`;
const names = { superuser: `${p}_super`, reader: `${p}_reader`, writer: `${p}_writer`, owner: `${p}_owner`, a: `${p}_a`, b: `${p}_b`, c: `${p}_c`, managed: `${instance}_alice_x1y2z3` };

function configFor(): LatchConfig {
  return LatchConfig.parse({
    version: 1,
    settings: { admins: ['sec@example.com'], instance },
    integrations: [{
      name: 'cluster', type: 'postgresql', owner: 'sec@example.com', labels: [],
      connection: { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres', instance },
      resources: [{ name: 'shop', labels: ['production'], settings: { database }, permissions: { read: { roles: [names.c] } } }],
    }],
    discovery: { dormantAfter: '30d' },
  });
}

let writerSession: pg.Client;
let report: DiscoveryReport;
let store: SqliteStore;
const mine = (name: string): ScoredPrincipal => {
  const found = report.principals.find((principal) => principal.integration === 'cluster' && principal.principal === name);
  if (!found) throw new Error(`${name} is not in the report`);
  return found;
};

beforeAll(async () => {
  await asSuperuser(async (client) => {
    await client.query(`CREATE DATABASE ${database}`);
    await client.query(`CREATE ROLE ${names.superuser} LOGIN SUPERUSER`);
    await client.query(`CREATE ROLE ${names.reader} LOGIN VALID UNTIL 'infinity'`);
    await client.query(`CREATE ROLE ${names.writer} LOGIN VALID UNTIL '2099-01-01'`);
    await client.query(`CREATE ROLE ${names.owner} LOGIN`);
    await client.query(`CREATE ROLE ${names.c} NOLOGIN`);
    await client.query(`CREATE ROLE ${names.b} NOLOGIN IN ROLE ${names.c}`);
    await client.query(`CREATE ROLE ${names.a} LOGIN IN ROLE ${names.b}`);
    await client.query(`CREATE ROLE ${names.managed} LOGIN`);
    await client.query(`COMMENT ON ROLE ${names.managed} IS 'latch-managed request=AR-1 grant=g1'`);
  });
  await asSuperuser(async (client) => {
    await client.query('CREATE TABLE public.orders (id int)');
    await client.query(`CREATE TABLE public.owned (id int)`);
    await client.query(`ALTER TABLE public.owned OWNER TO ${names.owner}`);
    await client.query(`GRANT SELECT ON public.orders TO ${names.reader}`);
    await client.query(`GRANT INSERT, UPDATE ON public.orders TO ${names.writer}`);
    await client.query(`GRANT DELETE ON public.orders TO ${names.c}`);
    await client.query(`GRANT SELECT ON public.orders TO ${names.managed}`);
  }, database);
  writerSession = await connectAs({ user: names.writer, database });
  store = new SqliteStore({ path: ':memory:' });
  store.migrate();
  report = await discover({ config: configFor(), env: {}, now: Date.now(), store: store.discovery, recordScan: true });
}, 60_000);

afterAll(async () => {
  await writerSession?.end().catch(() => undefined);
  await store?.close();
  await asSuperuser(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    for (const role of [names.a, names.b, names.c, names.superuser, names.reader, names.writer, names.owner, names.managed]) await client.query(`DROP ROLE IF EXISTS ${role}`);
  });
});

describe('scanning PostgreSQL for standing access', () => {
  it('reads the cluster and says whose connector it used', () => {
    const outcome = report.integrations.find((i) => i.integration === 'cluster');
    expect(outcome).toMatchObject({ ok: true, connector: 'postgres' });
    expect(outcome!.databases!.some((d) => d.database === database)).toBe(true);
    expect(report.principals.some((principal) => principal.principal === 'postgres')).toBe(false);
  });

  it('finds the superuser and classes it identity control', () => {
    const superuser = mine(names.superuser);
    expect(superuser.level).toBe('identity');
    expect(superuser.privileges.some((privilege) => privilege.kind === 'attribute' && privilege.name === 'SUPERUSER')).toBe(true);
    expect(superuser.passwordNeverExpires).toBe(true);
  });

  it('finds the reader reading, dormant, with a password that never expires, weighed by the production label', () => {
    const reader = mine(names.reader);
    expect(reader.level).toBe('read');
    expect(reader.usage).toBe('dormant');
    expect(reader.privileges).toContainEqual(expect.objectContaining({ kind: 'object', name: 'SELECT', on: `table ${database}.public.orders` }));
    expect(reader.passwordNeverExpires).toBe(true);
    expect(reader.sensitivity).toBe(3);
  });

  it('finds the writer writing and active, seen in the activity sample kept in the store', async () => {
    const writer = mine(names.writer);
    expect(writer.level).toBe('write');
    expect(writer.usage).toBe('active');
    expect(writer.passwordNeverExpires).toBe(false);
    const history = await store.discovery.activity('cluster');
    expect(history.samples).toBe(1);
    expect(history.lastSeen.has(names.writer)).toBe(true);
    expect(history.lastSeen.has(names.reader)).toBe(false);
  });

  it('finds what the owner owns and classes ownership admin', () => {
    const owner = mine(names.owner);
    expect(owner.level).toBe('admin');
    expect(owner.privileges).toContainEqual(expect.objectContaining({ kind: 'ownership', name: 'table', on: `${database}.public.owned` }));
  });

  it('follows the chain a → b → c: a holds c through b, and c\'s DELETE through both', () => {
    const a = mine(names.a);
    expect(a.privileges).toContainEqual(expect.objectContaining({ kind: 'membership', name: names.b, via: [] }));
    expect(a.privileges).toContainEqual(expect.objectContaining({ kind: 'membership', name: names.c, via: [names.b] }));
    expect(a.privileges).toContainEqual(expect.objectContaining({ kind: 'object', name: 'DELETE', via: [names.b, names.c] }));
    expect(a.level).toBe('write');
    expect(mine(names.b).canLogin).toBe(false);
  });

  it('never reports a role Latch manages', () => {
    expect(report.principals.some((principal) => principal.principal === names.managed)).toBe(false);
  });

  it('ranks riskiest first: the superuser and the owner above the writer, the writer above the dormant reader', () => {
    const order = report.principals.filter((principal) => principal.integration === 'cluster' && principal.principal.startsWith(p)).map((principal) => principal.principal);
    expect(order.indexOf(names.superuser)).toBeLessThan(order.indexOf(names.writer));
    expect(order.indexOf(names.owner)).toBeLessThan(order.indexOf(names.writer));
    expect(order.indexOf(names.writer)).toBeLessThan(order.indexOf(names.reader));
    const scores = report.principals.map((principal) => principal.score);
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
  });

  it('compares a second scan with the first and keeps the writer active from the earlier sample', async () => {
    await writerSession.end();
    const again = await discover({ config: configFor(), env: {}, now: Date.now() + 1000, store: store.discovery, recordScan: true });
    expect(again.previousScanAt).toBe(report.scannedAt);
    expect(again.changes).not.toBeNull();
    expect(again.principals.find((principal) => principal.principal === names.writer)!.usage).toBe('active');
    expect((await store.discovery.activity('cluster')).samples).toBe(2);
  });
});
