// npm run bench: how fast Latch grants and revokes in a real PostgreSQL, against the floor
// of the same statements run directly. Prints a table and writes bench/results.json.
// First version: the PostgreSQL provisioner; the full benchmark (HTTP surface, expiry lag,
// mass expiry) builds on it.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import type { Integration } from '../config/schema.js';
import { PostgresProvisioner } from '../provisioners/postgres.js';
import { generatePassword, scramSha256Verifier } from '../provisioners/postgres/scram.js';
import type { GrantInput } from '../provisioners/provisioner.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const host = process.env.BENCH_PG_HOST ?? '127.0.0.1';
const port = Number(process.env.BENCH_PG_PORT ?? 5432);
const user = process.env.BENCH_PG_USER ?? 'postgres';

interface Figure { name: string; median: number; p99: number; perSecond: number; floorMedian: number; ratio: number }

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};

async function timed(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<{ samples: number[]; seconds: number }> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const index = next;
      next += 1;
      const at = performance.now();
      await work(index);
      samples.push(performance.now() - at);
    }
  }));
  return { samples, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const suffix = randomBytes(4).toString('hex');
  const database = `latch_bench_${suffix}`;
  const group = `latch_bench_${suffix}_ro`;
  const instance = `b${suffix.slice(0, 6)}`;
  const admin = new pg.Client({ host, port, user, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  await admin.query(`CREATE ROLE ${pg.escapeIdentifier(group)} NOLOGIN`);
  const integration = {
    name: 'bench', type: 'postgresql', owner: { kind: 'user', email: 'owner@example.com' }, credentials: { none: true },
    connection: { host, port, user, database: 'postgres', instance, maxConnections: CONCURRENCY },
    resources: [{ name: 'db', labels: [], settings: { databases: [database] }, permissions: { read: { roles: [group] } } }],
  } as unknown as Integration;
  const resource = integration.resources[0];
  if (!resource) throw new Error('no resource');
  const provisioner = new PostgresProvisioner(integration, {});
  const input = (index: number, prefix: string): GrantInput => ({
    grantId: `g${index}`, requestId: `AR-BENCH${index}`, grantee: 'bench@example.com', integration, resource, permission: 'read',
    permissionSettings: { roles: [group] }, principal: `${prefix}_${index}`, expiresAt: Date.now() + 3_600_000,
  });
  const figures: Figure[] = [];
  try {
    const floorPool = new pg.Pool({ host, port, user, database: 'postgres', max: CONCURRENCY });
    const floorGrant = await timed(COUNT, CONCURRENCY, async (index) => {
      const name = pg.escapeIdentifier(`${instance}_floor_${index}`);
      const verifier = await scramSha256Verifier(generatePassword());
      await floorPool.query(`CREATE ROLE ${name} LOGIN PASSWORD ${pg.escapeLiteral(verifier)} VALID UNTIL ${pg.escapeLiteral(new Date(Date.now() + 3_600_000).toISOString())} IN ROLE ${pg.escapeIdentifier(group)}`);
    });
    const dbPool = new pg.Pool({ host, port, user, database, max: CONCURRENCY });
    // The same statements a careful revoke runs: memberships, sessions, owned objects in the resource's database, the role.
    const floorRevoke = await timed(COUNT, CONCURRENCY, async (index) => {
      const role = `${instance}_floor_${index}`;
      const name = pg.escapeIdentifier(role);
      await floorPool.query(`REVOKE ${pg.escapeIdentifier(group)} FROM ${name}`);
      await floorPool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
      await dbPool.query(`REASSIGN OWNED BY ${name} TO ${pg.escapeIdentifier(user)}; DROP OWNED BY ${name}`);
      await floorPool.query(`DROP ROLE ${name}`);
    });
    await Promise.all([floorPool.end(), dbPool.end()]);
    const grant = await timed(COUNT, CONCURRENCY, async (index) => { await provisioner.grant(input(index, `${instance}_latch`)); });
    const revoke = await timed(COUNT, CONCURRENCY, async (index) => { await provisioner.revoke(input(index, `${instance}_latch`)); });
    for (const [name, measured, floor] of [['grant (PostgreSQL)', grant, floorGrant], ['revoke (PostgreSQL)', revoke, floorRevoke]] as const) {
      const median = quantile(measured.samples, 0.5);
      const floorMedian = quantile(floor.samples, 0.5);
      figures.push({ name, median, p99: quantile(measured.samples, 0.99), perSecond: COUNT / measured.seconds, floorMedian, ratio: median / floorMedian });
    }
  } finally {
    await provisioner.close();
    const leftovers = await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`${instance}\\_%`]);
    for (const { rolname } of leftovers.rows) await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(rolname)}`);
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)}`);
    await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(group)}`);
    await admin.end();
  }
  const line = (cells: string[]): string => cells.map((cell, index) => (index === 0 ? cell.padEnd(22) : cell.padStart(12))).join('');
  process.stdout.write(`${line(['figure', 'median ms', 'p99 ms', 'per second', 'floor ms', 'ratio'])}\n`);
  for (const figure of figures) {
    process.stdout.write(`${line([figure.name, figure.median.toFixed(1), figure.p99.toFixed(1), figure.perSecond.toFixed(1), figure.floorMedian.toFixed(1), `${figure.ratio.toFixed(2)}x`])}\n`);
  }
  mkdirSync('bench', { recursive: true });
  writeFileSync('bench/results.json', `${JSON.stringify({ at: new Date().toISOString(), count: COUNT, concurrency: CONCURRENCY, figures }, null, 2)}\n`);
  process.stdout.write(`\n${COUNT} operations, ${CONCURRENCY} at a time; floor = the same grant and revoke statements run directly with the driver. Written to bench/results.json.\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
