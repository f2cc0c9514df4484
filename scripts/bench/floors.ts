// What each figure is compared with: the least the same machine can do for the same job.
// - ack: a bare fastify server answering an empty 200 to the same signed POSTs;
// - approve → usable: the provisioner's CREATE/GRANT statements run directly, then a login;
// - revoke: the provisioner's batched revoke statements run directly on roles made for it.
import type { AddressInfo } from 'node:net';
import fastify from 'fastify';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { generatePassword as mysqlPassword } from '../../provisioners/mysql/password.js';
import { generatePassword, scramSha256Verifier } from '../../provisioners/postgres/scram.js';
import { MY, PG, mysqlLogin, pgAdmin, pgLogin, type BenchBackends } from './backends.js';
import { onCleanup } from './cleanup.js';
import { inParallel } from './load-generator.js';

/** A fastify server that reads the body and answers 200 with nothing, on 127.0.0.1. */
export async function startEmptyServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const app = fastify({ logger: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/slack/events', async (_request, reply) => reply.code(200).send());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const close = () => app.close();
  onCleanup('empty fastify server', close);
  return { url: `http://127.0.0.1:${port}/slack/events`, close };
}

const id = pg.escapeIdentifier;

/** One PostgreSQL grant the way the provisioner makes it (SCRAM verifier computed here, one transaction), then a login. Returns ms. */
export async function postgresGrantFloor(backends: BenchBackends, index: number): Promise<number> {
  const started = performance.now();
  const role = `${backends.instance}_floor_${index}`;
  const password = generatePassword();
  const verifier = await scramSha256Verifier(password);
  await pgAdmin(async (client) => {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(1, hashtext($1))', [role]);
    await client.query(`CREATE ROLE ${id(role)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)} VALID UNTIL ${pg.escapeLiteral(new Date(Date.now() + 3_600_000).toISOString())} INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
    await client.query(`COMMENT ON ROLE ${id(role)} IS 'latch-managed bench floor'`);
    await client.query(`GRANT ${id(backends.readRole)} TO ${id(role)}`);
    await client.query('COMMIT');
  }, backends.database);
  await pgLogin(role, password, backends.database);
  return performance.now() - started;
}

/**
 * One MariaDB grant the way the provisioner makes a new account once it knows the connector
 * may set default roles for accounts (named lock, then account, role and default role in one
 * compound statement), then a login. Returns ms.
 */
export async function mysqlGrantFloor(backends: BenchBackends, index: number): Promise<number> {
  const started = performance.now();
  const account = `${backends.instance}_floor_${index}`;
  const password = mysqlPassword();
  const conn = await mysql.createConnection({ ...MY, password: process.env.BENCH_MYSQL_PASSWORD ?? '' });
  try {
    await conn.query('SELECT GET_LOCK(?, 10)', [`latch:${account}`]);
    const role = mysql.escapeId(backends.readRole, true);
    await conn.query(`BEGIN NOT ATOMIC CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?; GRANT ${role} TO ?@?; SET DEFAULT ROLE ${role} FOR ?@?; END`,
      [account, '%', password, account, '%', account, '%']);
    await conn.query('SELECT RELEASE_LOCK(?)', [`latch:${account}`]);
  } finally {
    await conn.end();
  }
  await mysqlLogin(account, password, backends.database);
  return performance.now() - started;
}

/** Makes `count` login roles in the read role for the revoke floor, quickly (no password: the revoke does not need one). */
export async function makeFloorRoles(backends: BenchBackends, prefix: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, index) => `${backends.instance}_${prefix}_${index}`);
  await pgAdmin(async (client) => {
    for (let start = 0; start < names.length; start += 500) {
      const chunk = names.slice(start, start + 500);
      await client.query(`DO $$ BEGIN ${chunk.map((name) => `CREATE ROLE ${id(name)} LOGIN IN ROLE ${id(backends.readRole)};`).join(' ')} END $$`);
    }
  });
  return names;
}

/**
 * The provisioner's batched revoke run directly: per batch one transaction that cuts the
 * roles off (NOLOGIN, PASSWORD NULL, memberships), ending their sessions, REASSIGN/DROP OWNED
 * in the database, one DROP ROLE for the batch. `connections` batches run side by side, as
 * Latch's pool allows. Returns the total ms and each batch's ms.
 */
export async function postgresBatchedRevokeFloor(backends: BenchBackends, roles: readonly string[], batchSize: number, connections: number): Promise<{ totalMs: number; batchMs: number[] }> {
  const batches: string[][] = [];
  for (let start = 0; start < roles.length; start += batchSize) batches.push(roles.slice(start, start + batchSize));
  const pool = new pg.Pool({ ...PG, database: backends.database, max: connections });
  pool.on('error', () => undefined);
  const batchMs: number[] = [];
  const started = performance.now();
  try {
    await inParallel(batches.length, connections, async (index) => {
      const batch = batches[index] ?? [];
      const names = batch.map(id).join(', ');
      const at = performance.now();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const role of batch) {
          await client.query(`ALTER ROLE ${id(role)} WITH NOLOGIN PASSWORD NULL`);
          await client.query(`REVOKE ${id(backends.readRole)} FROM ${id(role)}`);
        }
        await client.query('COMMIT');
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1::name[])', [batch]);
        await client.query('BEGIN');
        await client.query(`REASSIGN OWNED BY ${names} TO CURRENT_USER`);
        await client.query(`DROP OWNED BY ${names}`);
        await client.query('COMMIT');
        await client.query(`DROP ROLE IF EXISTS ${names}`);
      } finally {
        client.release();
      }
      batchMs.push(performance.now() - at);
    });
  } finally {
    await pool.end();
  }
  return { totalMs: performance.now() - started, batchMs };
}
