// `npm run latch -- discover ...` end to end: the real script in a child process, scanning
// the local PostgreSQL and MariaDB, revoking standing privileges for real on --confirm,
// audited in the store, and putting them back with `discover undo`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { asRoot } from '../support/mysql.js';
import { asSuperuser, randomSuffix } from '../support/postgres.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SLOW = { timeout: 120_000 };

interface Run { code: number; stdout: string; stderr: string }

function latch(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 100_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const suffix = randomSuffix(6);
const p = `dc${suffix}`;
const pgDatabase = `${p}_db`;
const mySchema = `${p}shop`;
const instance = `lc${suffix}`;
const pgRoles = { admin: `${p}_admin`, group: `${p}_writers`, member: `${p}_member` };
const myUser = `${p}_dba`;

let dir = '';
let configFile = '';
let env: NodeJS.ProcessEnv = {};

function config(undoWithin: string): string {
  return `version: 1
settings:
  admins: [sec@example.com]
  instance: ${instance}
discovery:
  dormantAfter: 30d
  undoWithin: ${undoWithin}
  approvers: [group:dba]
groups:
  - { name: dba, members: [dba@example.com] }
integrations:
  - name: pg-${suffix}
    type: postgresql
    owner: sec@example.com
    labels: [production]
    connection: { host: 127.0.0.1, port: 5432, user: postgres, database: postgres }
    resources:
      - { name: shop, settings: { database: ${pgDatabase} }, permissions: { write: { roles: [${pgRoles.group}] } } }
  - name: my-${suffix}
    type: mysql
    owner: sec@example.com
    connection: { host: 127.0.0.1, port: 3306, user: root }
    resources:
      - { name: shop, settings: { database: ${mySchema} }, permissions: { read: { grants: [{ privileges: [SELECT], on: "${mySchema}.*" }] } } }
`;
}

async function pgFacts(): Promise<{ createrole: boolean; createdb: boolean; inGroup: boolean; canDelete: boolean }> {
  const [role] = await asSuperuser(async (client) => (await client.query<{ createrole: boolean; createdb: boolean; in_group: boolean }>(
    `SELECT rolcreaterole AS createrole, rolcreatedb AS createdb, pg_has_role($1, $2, 'MEMBER') AS in_group FROM pg_roles WHERE rolname = $1`, [pgRoles.admin, pgRoles.group])).rows);
  const [grant] = await asSuperuser(async (client) => (await client.query<{ can: boolean }>(`SELECT has_table_privilege($1, 'public.orders', 'DELETE') AS can`, [pgRoles.admin])).rows, pgDatabase);
  return { createrole: role!.createrole, createdb: role!.createdb, inGroup: role!.in_group, canDelete: grant!.can };
}

async function myGrants(): Promise<string[]> {
  return asRoot(async (conn) => {
    const [rows] = await conn.query(`SHOW GRANTS FOR ?@?`, [myUser, '%']);
    return (rows as Record<string, string>[]).map((row) => Object.values(row)[0] ?? '');
  });
}

async function auditOf(database: string): Promise<{ type: string; actor: string; data: Record<string, unknown> }[]> {
  const store = new SqliteStore({ path: database });
  try {
    return await store.auditEvents({});
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-discover-'));
  configFile = join(dir, 'latch.yaml');
  writeFileSync(configFile, config('7d'));
  env = { DATABASE_URL: `sqlite:${join(dir, 'latch.db')}`, LATCH_OPERATOR: 'sec@example.com' };
  await asSuperuser(async (client) => {
    await client.query(`CREATE DATABASE ${pgDatabase}`);
    await client.query(`CREATE ROLE ${pgRoles.group} NOLOGIN`);
    await client.query(`CREATE ROLE ${pgRoles.admin} LOGIN CREATEROLE CREATEDB IN ROLE ${pgRoles.group}`);
    await client.query(`CREATE ROLE ${pgRoles.member} LOGIN IN ROLE ${pgRoles.group}`);
  });
  await asSuperuser(async (client) => {
    await client.query('CREATE TABLE public.orders (id int)');
    await client.query(`GRANT DELETE ON public.orders TO ${pgRoles.admin}`);
    await client.query(`CREATE TABLE public.mine (id int)`);
    await client.query(`ALTER TABLE public.mine OWNER TO ${pgRoles.admin}`);
  }, pgDatabase);
  await asRoot(async (conn) => {
    await conn.query(`CREATE DATABASE \`${mySchema}\``);
    await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [myUser, '%', 'Pw-2-disc']);
    await conn.query(`GRANT SELECT, INSERT ON \`${mySchema}\`.* TO ?@? WITH GRANT OPTION`, [myUser, '%']);
    await conn.query('GRANT PROCESS ON *.* TO ?@?', [myUser, '%']);
  });
}, 60_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await asSuperuser(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
    for (const role of [pgRoles.member, pgRoles.admin, pgRoles.group]) await client.query(`DROP ROLE IF EXISTS ${role}`);
  });
  await asRoot(async (conn) => {
    await conn.query('DROP USER IF EXISTS ?@?', [myUser, '%']);
    await conn.query(`DROP DATABASE IF EXISTS \`${mySchema}\``);
  });
});

describe('latch discover', () => {
  it('prints the principals riskiest first with reasons and writes the JSON report', SLOW, async () => {
    const json = join(dir, 'report.json');
    const run = await latch(['discover', '--config', configFile, '--json', json], env);
    expect(run.stderr).toContain(`report written to ${json}`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/RISK\s+LEVEL\s+USAGE\s+INTEGRATION\s+PRINCIPAL/);
    expect(run.stdout).toContain('identity control: CREATEROLE');
    expect(run.stdout).toContain('sensitive: production');
    const report = JSON.parse(readFileSync(json, 'utf8')) as { principals: { principal: string; score: number; level: string; reasons: string[] }[] };
    const scores = report.principals.map((principal) => principal.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const admin = report.principals.find((principal) => principal.principal === pgRoles.admin)!;
    const member = report.principals.find((principal) => principal.principal === pgRoles.member)!;
    expect(admin.level).toBe('identity');
    expect(admin.score).toBeGreaterThan(member.score);
    expect(report.principals.find((principal) => principal.principal === `${myUser}@%`)!.level).toBe('admin');
  });

  it('refuses an integration the config does not have, and a principal the scan did not find, changing nothing', SLOW, async () => {
    const unknown = await latch(['discover', '--config', configFile, '--integration', 'nope'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('there is no integration "nope" in the config');
    const missing = await latch(['discover', 'remediate', `${instance}_someone_abc`, '--integration', `pg-${suffix}`, '--confirm', '--config', configFile], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`has no standing principal "${instance}_someone_abc"`);
    const usage = await latch(['discover', 'remediate', pgRoles.admin, '--config', configFile], env);
    expect(usage.code).toBe(2);
  });

  it('proposes the revocation and the replacing flow, and changes nothing without --confirm', SLOW, async () => {
    const run = await latch(['discover', 'remediate', pgRoles.admin, '--integration', `pg-${suffix}`, '--config', configFile], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`ALTER ROLE "${pgRoles.admin}" NOCREATEROLE;`);
    expect(run.stdout).toContain(`REVOKE "${pgRoles.group}" FROM "${pgRoles.admin}";`);
    expect(run.stdout).toContain(`REVOKE DELETE ON TABLE "public"."orders" FROM "${pgRoles.admin}";   -- in database ${pgDatabase}`);
    expect(run.stdout).toContain(`owns table ${pgDatabase}.public.mine`);
    expect(run.stdout).toContain('Uses the existing resource shop, permission write.');
    expect(run.stdout).toMatch(/approvers:\s*\n\s*- group:dba/);
    expect(run.stdout).toContain('Nothing was changed. Run again with --confirm to revoke.');
    expect(await pgFacts()).toEqual({ createrole: true, createdb: true, inGroup: true, canDelete: true });
  });

  it('revokes in PostgreSQL on --confirm, audits exactly what ran, and undo puts it back', SLOW, async () => {
    const run = await latch(['discover', 'remediate', pgRoles.admin, '--integration', `pg-${suffix}`, '--confirm', '--config', configFile], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const id = /recorded as (DR-[0-9A-Z]{8})/.exec(run.stdout)?.[1];
    expect(id).toBeDefined();
    expect(await pgFacts()).toEqual({ createrole: false, createdb: false, inGroup: false, canDelete: false });

    const database = join(dir, 'latch.db');
    const remediated = (await auditOf(database)).find((event) => event.type === 'discovery.remediated' && event.data.remediation === id)!;
    expect(remediated.actor).toBe('sec@example.com');
    expect(remediated.data.principal).toBe(pgRoles.admin);
    expect((remediated.data.changes as { revoke: string }[]).map((change) => change.revoke)).toEqual(expect.arrayContaining([
      `ALTER ROLE "${pgRoles.admin}" NOCREATEROLE`, `ALTER ROLE "${pgRoles.admin}" NOCREATEDB`, `REVOKE "${pgRoles.group}" FROM "${pgRoles.admin}"`, `REVOKE DELETE ON TABLE "public"."orders" FROM "${pgRoles.admin}"`,
    ]));

    const undo = await latch(['discover', 'undo', id!, '--config', configFile], env);
    expect(undo.code).toBe(0);
    expect(undo.stdout).toContain(`GRANT "${pgRoles.group}" TO "${pgRoles.admin}";`);
    expect(await pgFacts()).toEqual({ createrole: true, createdb: true, inGroup: true, canDelete: true });
    expect((await auditOf(database)).some((event) => event.type === 'discovery.undone' && event.data.remediation === id)).toBe(true);

    const twice = await latch(['discover', 'undo', id!, '--config', configFile], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`${id!} was already undone by sec@example.com`);
  });

  it('revokes in MariaDB with the grant option, and undo restores it; after the grace period undo is refused', SLOW, async () => {
    const before = await myGrants();
    expect(before.join('\n')).toContain('WITH GRANT OPTION');
    const run = await latch(['discover', 'remediate', `${myUser}@%`, '--integration', `my-${suffix}`, '--confirm', '--config', configFile], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`REVOKE SELECT, INSERT, GRANT OPTION ON \`${mySchema}\`.* FROM '${myUser}'@'%';`);
    expect(run.stdout).toContain(`REVOKE PROCESS ON *.* FROM '${myUser}'@'%';`);
    const id = /recorded as (DR-[0-9A-Z]{8})/.exec(run.stdout)![1]!;
    const after = await myGrants();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatch(/^GRANT USAGE ON \*\.\* TO /);

    const undo = await latch(['discover', 'undo', id, '--config', configFile], env);
    expect(undo.code).toBe(0);
    expect((await myGrants()).sort()).toEqual([...before].sort());

    // Remediated under a one-second grace period: once it is over, undo is refused and nothing is restored.
    const short = join(dir, 'short.yaml');
    writeFileSync(short, config('1s'));
    const again = await latch(['discover', 'remediate', `${myUser}@%`, '--integration', `my-${suffix}`, '--confirm', '--config', short], env);
    expect(again.code).toBe(0);
    const second = /recorded as (DR-[0-9A-Z]{8})/.exec(again.stdout)![1]!;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const refused = await latch(['discover', 'undo', second, '--config', short], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${second} can no longer be undone: its grace period ended`);
    expect((await myGrants()).join('\n')).not.toContain('INSERT');
  });
});
