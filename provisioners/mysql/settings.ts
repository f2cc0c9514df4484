import { parseSettings as parseShared } from '../settings.js';
import { z } from 'zod';
import type { Integration, Resource } from '../../config/schema.js';

// The MySQL/MariaDB provisioner's part of the config, checked here rather than in
// config/schema.ts: `connection`, resource `settings` and permission settings are free-form
// maps there, and only this backend knows what they mean. Every name that ends up in SQL is
// held against a safe pattern (and every privilege against an allow-list) first, so a
// hostile or mistyped value is a config error naming the integration and the key before any
// connection is opened. The SQL is still built with the driver's escaping; the pattern is
// the second lock on the door, not the only one.

/** Schema and table names: ASCII letters, digits, `_` and `-`, at most 64 characters (MySQL's identifier limit). */
export const SAFE_OBJECT = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
/** Role names: the same alphabet, at most 64 characters (MySQL 8 allows 32 for a role, MariaDB more). */
export const SAFE_ROLE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
/** Principals Latch creates: `<instance>_<person>_<random>`, see provisioners/principal-name.ts; MySQL allows 32 characters. */
export const SAFE_PRINCIPAL = /^[a-z][a-z0-9_]{0,31}$/;
/** Host patterns of accounts: `%`, `10.0.%`, `app.example.com`, `192.168.1.0/255.255.255.0`, `::1`. */
export const SAFE_HOST = /^[A-Za-z0-9.%_:/-]{1,255}$/;
/** Request and grant ids, only ever shown in messages. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Words that mean something else where a role name goes (SET DEFAULT ROLE NONE, PUBLIC, ...). */
const RESERVED_ROLES = new Set(['none', 'public', 'all', 'current_role', 'current_user', 'default']);
/** Schemas that hold the server's own state; a grant there is a grant of the server. */
const SYSTEM_SCHEMAS = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

export class MysqlSettingsError extends Error {
  override name = 'MysqlSettingsError';
}

/** Shows a rejected value without letting it run on: quoted, escaped, shortened. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * The privileges a permission may hand out, with what `check` reads back: the column of
 * mysql.db (schema-level grants) and the word in mysql.tables_priv.Table_priv (table-level
 * grants; null where MySQL has no table-level form). ALL, GRANT OPTION and every global
 * privilege (SUPER, FILE, PROCESS, CREATE USER, ...) are deliberately absent.
 */
export const PRIVILEGES = {
  SELECT: { dbColumn: 'Select_priv', tableWord: 'select' },
  INSERT: { dbColumn: 'Insert_priv', tableWord: 'insert' },
  UPDATE: { dbColumn: 'Update_priv', tableWord: 'update' },
  DELETE: { dbColumn: 'Delete_priv', tableWord: 'delete' },
  CREATE: { dbColumn: 'Create_priv', tableWord: 'create' },
  DROP: { dbColumn: 'Drop_priv', tableWord: 'drop' },
  ALTER: { dbColumn: 'Alter_priv', tableWord: 'alter' },
  INDEX: { dbColumn: 'Index_priv', tableWord: 'index' },
  REFERENCES: { dbColumn: 'References_priv', tableWord: 'references' },
  TRIGGER: { dbColumn: 'Trigger_priv', tableWord: 'trigger' },
  'CREATE VIEW': { dbColumn: 'Create_view_priv', tableWord: 'create view' },
  'SHOW VIEW': { dbColumn: 'Show_view_priv', tableWord: 'show view' },
  'CREATE TEMPORARY TABLES': { dbColumn: 'Create_tmp_table_priv', tableWord: null },
  'LOCK TABLES': { dbColumn: 'Lock_tables_priv', tableWord: null },
  EXECUTE: { dbColumn: 'Execute_priv', tableWord: null },
  'CREATE ROUTINE': { dbColumn: 'Create_routine_priv', tableWord: null },
  'ALTER ROUTINE': { dbColumn: 'Alter_routine_priv', tableWord: null },
  EVENT: { dbColumn: 'Event_priv', tableWord: null },
} as const satisfies Record<string, { dbColumn: string; tableWord: string | null }>;
export type Privilege = keyof typeof PRIVILEGES;
const PRIVILEGE_NAMES = Object.keys(PRIVILEGES) as Privilege[];

function isPrivilege(word: string): word is Privilege {
  return Object.hasOwn(PRIVILEGES, word);
}

const Count = (min: number, max: number) => z.preprocess(
  (value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value),
  z.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
);

export const ConnectionSettings = z.strictObject({
  host: z.string({ error: (issue) => (issue.input === undefined ? 'is required: the server Latch connects to' : 'must be a host name or address') }).min(1, 'must not be empty'),
  port: Count(1, 65535).default(3306),
  /** The connector account Latch logs in as, see scripts/mysql-connector-setup.sql. Never put into SQL. */
  user: z.string({ error: (issue) => (issue.input === undefined ? 'is required: the connector account Latch logs in as' : 'must be an account name') })
    .min(1, 'must not be empty').max(80, 'must be at most 80 characters'),
  /** Connections in the pool. */
  maxConnections: Count(1, 100).default(5),
  /** The host part of the accounts Latch creates: who may connect from where. */
  userHost: z.string({ error: 'must be a host pattern such as "%" or "10.0.%"' })
    .regex(SAFE_HOST, { error: (issue) => `${show(issue.input)} is not a host pattern (letters, digits and . % _ : / -, e.g. "%" or "10.0.%")` })
    .default('%'),
  /** Latch's settings.instance: principals are `<instance>_...`, and Latch touches no account without that prefix. */
  instance: z.string().regex(/^[a-z][a-z0-9]{0,11}$/, 'must be the instance of settings.instance: 1-12 lower-case letters or digits, starting with a letter').default('latch'),
  /** false/disable: plain; require: encrypted, certificate not checked; true/verify-full: encrypted and verified. */
  ssl: z.union([z.boolean(), z.enum(['disable', 'require', 'verify-full'])], { error: 'must be true, false, "disable", "require" or "verify-full"' }).default(false),
  /** A CA bundle (PEM file path) to verify the server certificate against. */
  sslCa: z.string().min(1).optional(),
});
export type ConnectionSettings = z.output<typeof ConnectionSettings>;

function objectName(what: string) {
  return z.string({ error: `must be a ${what} name` })
    .regex(SAFE_OBJECT, { error: (issue) => `${show(issue.input)} is not a safe ${what} name (ASCII letters, digits, "_" or "-", at most 64 characters)` });
}

export const RoleName = z.string({ error: 'must be a role name' })
  .regex(SAFE_ROLE, { error: (issue) => `${show(issue.input)} is not a safe role name (ASCII letters, digits, "_" or "-", at most 64 characters)` })
  .refine((name) => !RESERVED_ROLES.has(name.toLowerCase()), { error: (issue) => `${show(issue.input)} is a reserved word, not a role name` });

const PrivilegeName = z.string({ error: 'must be a privilege keyword such as SELECT' }).transform((text, ctx) => {
  const word = text.toUpperCase();
  if (/^[A-Z]+( [A-Z]+)*$/.test(word) && isPrivilege(word)) return word;
  const why = word === 'ALL' || word === 'ALL PRIVILEGES' || word === 'GRANT OPTION' || word === 'USAGE' || word === 'PROXY'
    ? ' (Latch never hands out ALL, GRANT OPTION, USAGE or PROXY)' : '';
  ctx.addIssue({ code: 'custom', message: `${show(text)} is not a privilege Latch grants${why}; use ${PRIVILEGE_NAMES.join(', ')}` });
  return z.NEVER;
});

/** `schema.*` or `schema.table`. */
const Target = z.string({ error: 'must be "schema.*" or "schema.table"' }).transform((text, ctx) => {
  const [schema, table, ...rest] = text.split('.');
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (schema === undefined || table === undefined || rest.length > 0) return fail(`${show(text)} is not "schema.*" or "schema.table"`);
  if (!SAFE_OBJECT.test(schema)) return fail(`${show(schema)} is not a safe schema name (ASCII letters, digits, "_" or "-", at most 64 characters)`);
  if (SYSTEM_SCHEMAS.has(schema.toLowerCase())) return fail(`${show(schema)} is a system schema; Latch does not grant there`);
  if (table !== '*' && !SAFE_OBJECT.test(table)) return fail(`${show(table)} is not a safe table name (ASCII letters, digits, "_" or "-", at most 64 characters)`);
  return { schema, table: table === '*' ? null : table, text };
});

const GrantSpec = z.strictObject({
  privileges: z.array(PrivilegeName, { error: 'must be a list of privileges, e.g. [SELECT, INSERT]' }).min(1, 'name at least one privilege'),
  on: Target,
}).superRefine((grant, ctx) => {
  if (grant.on.table === null) return;
  const schemaOnly = grant.privileges.filter((privilege) => PRIVILEGES[privilege].tableWord === null);
  if (schemaOnly.length > 0) ctx.addIssue({ code: 'custom', path: ['privileges'], message: `${schemaOnly.join(', ')} can only be granted on a whole schema ("schema.*"), not on table ${grant.on.text}` });
});

export const PermissionSettings = z.strictObject({
  /** Roles granted to the account and made its default roles. The roles hold the privileges. */
  roles: z.array(RoleName, { error: 'must be a list of role names' }).min(1, 'name at least one role').optional(),
  /** Privileges granted to the account directly. */
  grants: z.array(GrantSpec, { error: 'must be a list of { privileges: [...], on: "schema.*" }' }).min(1, 'name at least one grant').optional(),
}).refine((settings) => settings.roles !== undefined || settings.grants !== undefined, {
  error: 'say what the permission grants: { roles: [app_readonly] } or { grants: [{ privileges: [SELECT], on: "app.*" }] }',
});

export const ResourceSettings = z.strictObject({
  /** The schema the access-details message names (`database`); optional. */
  database: objectName('schema').optional(),
});

export interface GrantTarget {
  schema: string;
  /** null: the whole schema. */
  table: string | null;
  /** As written in the config, for messages. */
  text: string;
}

export interface PermissionPlan {
  roles: string[];
  grants: { privileges: Privilege[]; on: GrantTarget }[];
}

export function parseSettings<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  return parseShared(schema, value, where, MysqlSettingsError);
}

export function parseConnection(integration: Integration): ConnectionSettings {
  return parseSettings(ConnectionSettings, integration.connection, `integration "${integration.name}": connection`);
}

export function parseResource(integration: Integration, resource: Resource): z.output<typeof ResourceSettings> {
  return parseSettings(ResourceSettings, resource.settings, `integration "${integration.name}" resource "${resource.name}": settings`);
}

export function permissionPlan(integration: Integration, resource: Resource, permission: string, settings: unknown): PermissionPlan {
  const parsed = parseSettings(PermissionSettings, settings, `integration "${integration.name}" resource "${resource.name}" permission "${permission}"`);
  return {
    roles: [...new Set(parsed.roles ?? [])],
    grants: (parsed.grants ?? []).map((grant) => ({ privileges: [...new Set(grant.privileges)], on: grant.on })),
  };
}

/** A principal Latch may create, change or drop: its safe alphabet and this instance's prefix. */
export function assertPrincipal(integration: Integration, connection: ConnectionSettings, principal: string): string {
  const prefix = `${connection.instance}_`;
  if (typeof principal !== 'string' || !SAFE_PRINCIPAL.test(principal)) {
    throw new MysqlSettingsError(`integration "${integration.name}": principal ${show(principal)} is not a safe account name (lower-case letters, digits and "_", starting with a letter, at most 32 characters)`);
  }
  if (!principal.startsWith(prefix) || principal.length === prefix.length) {
    throw new MysqlSettingsError(`integration "${integration.name}": principal ${show(principal)} does not start with "${prefix}", so it is not Latch's to touch; `
      + 'if Latch runs with another settings.instance, set connection.instance to it');
  }
  if (principal === connection.user) throw new MysqlSettingsError(`integration "${integration.name}": principal ${show(principal)} is the connector account itself`);
  return principal;
}

export function assertId(integration: Integration, what: string, id: string): string {
  if (typeof id !== 'string' || !SAFE_ID.test(id)) throw new MysqlSettingsError(`integration "${integration.name}": ${what} ${show(id)} is not a Latch id`);
  return id;
}

/**
 * In a schema-level GRANT, `_` and `%` in the schema name are wildcards: `app_db.*` also
 * covers `appXdb`. Escaped, the grant covers exactly the schema named.
 */
export function schemaPattern(schema: string): string {
  return schema.replace(/[_%]/g, (wildcard) => `\\${wildcard}`);
}

/** Whether a schema pattern of a GRANT (`app\_db`, `app%`) covers `schema`. */
export function patternCovers(pattern: string, schema: string): boolean {
  let regex = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] ?? '';
    if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      regex += escapeRegex(pattern[index] ?? '');
    } else if (char === '%') regex += '.*';
    else if (char === '_') regex += '.';
    else regex += escapeRegex(char);
  }
  return new RegExp(`^${regex}$`, 'i').test(schema);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
