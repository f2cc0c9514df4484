import { parseSettings as parseShared } from '../settings.js';
import { z } from 'zod';
import type { Integration, Resource } from '../../config/schema.js';

// The PostgreSQL provisioner's part of the config, checked here rather than in
// config/schema.ts: `connection`, resource `settings` and permission settings are free-form
// maps there, and only this backend knows what they mean. Every name that will end up in
// SQL is checked against a safe pattern first, so a hostile or mistyped name is a config
// error with the integration and key in it, before any connection is opened. The names are
// still quoted with the driver's escaping when the SQL is built; the pattern is the second
// lock on the door, not the only one.

/** Role and database names: ASCII letters, digits, `_` and `-`, at most 63 bytes (NAMEDATALEN - 1). */
export const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;
/** Principals Latch creates: `<instance>_<person>_<random>`, see provisioners/principal-name.ts. */
export const SAFE_PRINCIPAL = /^[a-z][a-z0-9_]{0,62}$/;
/** Request and grant ids travel into a role comment. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export class PostgresSettingsError extends Error {
  override name = 'PostgresSettingsError';
}

/** Shows a rejected value without letting it run on: quoted, escaped, shortened. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

const NAME_RULE = 'use ASCII letters, digits, "_" or "-", start with a letter or "_", at most 63 characters';

function nameSchema(what: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? 'is required' : `must be a ${what} name`) })
    .regex(SAFE_NAME, { error: (issue) => `${show(issue.input)} is not a safe ${what} name (${NAME_RULE})` });
}

export const RoleName = nameSchema('role');
export const DatabaseName = nameSchema('database');

const Count = (min: number, max: number) => z.preprocess(
  (value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value),
  z.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
);

export const ConnectionSettings = z.strictObject({
  host: z.string({ error: (issue) => (issue.input === undefined ? 'is required: the server Latch connects to' : 'must be a host name or address') }).min(1, 'must not be empty'),
  port: Count(1, 65535).default(5432),
  /** The database the connector logs in to for role statements (roles are cluster-wide). */
  database: DatabaseName.default('postgres'),
  /** The connector role: CREATEROLE plus ADMIN OPTION on the group roles, see scripts/postgres-connector-setup.sql. */
  user: z.string({ error: (issue) => (issue.input === undefined ? 'is required: the connector role Latch logs in as' : 'must be a role name') })
    .regex(SAFE_NAME, { error: (issue) => `${show(issue.input)} is not a safe role name (${NAME_RULE})` }),
  /** false/disable: plain; require: encrypted, certificate not checked; true/verify-full: encrypted and verified. */
  ssl: z.union([z.boolean(), z.enum(['disable', 'require', 'verify-full'])], { error: 'must be true, false, "disable", "require" or "verify-full"' }).default(false),
  /** A CA bundle (PEM file path) to verify the server certificate against, with ssl verify-full. */
  sslRootCert: z.string().min(1).optional(),
  /** Connections per database pool. */
  maxConnections: Count(1, 100).default(5),
  /** Latch's settings.instance, so listManaged also finds prefixed roles that lost their comment. */
  instance: z.string().regex(/^[a-z][a-z0-9]{0,11}$/, 'must be the instance of settings.instance: 1-12 lower-case letters or digits, starting with a letter').optional(),
});
export type ConnectionSettings = z.output<typeof ConnectionSettings>;

const Email = z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { error: (issue) => `${show(issue.input)} is not an e-mail address` });

export const ResourceSettings = z.strictObject({
  /** The databases this resource covers; revoke cleans up the principal in each of them. */
  databases: z.array(DatabaseName, { error: 'must be a list of database names' }).min(1, 'name at least one database').optional(),
  /** Shorthand for `databases: [name]`. */
  database: DatabaseName.optional(),
  mode: z.enum(['login_role', 'existing_role'], { error: 'must be "login_role" (Latch creates a login role per grant) or "existing_role"' }).default('login_role'),
  /** existing_role mode: grantee e-mail → the login role that person already has. */
  existingRoles: z.record(Email, RoleName, { error: 'must map e-mail addresses to role names' }).optional(),
}).superRefine((settings, ctx) => {
  if (settings.databases && settings.database) ctx.addIssue({ code: 'custom', path: ['database'], message: 'write either database or databases, not both' });
  if (settings.mode === 'existing_role' && Object.keys(settings.existingRoles ?? {}).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['existingRoles'], message: 'mode existing_role needs existingRoles: { "person@example.com": their_login_role }' });
  }
  if (settings.mode === 'login_role' && settings.existingRoles) ctx.addIssue({ code: 'custom', path: ['existingRoles'], message: 'only applies to mode: existing_role' });
});

export const PermissionSettings = z.strictObject({
  /** Group roles a grant makes the principal a member of. The group roles hold the privileges. */
  roles: z.array(RoleName, { error: (issue) => (issue.input === undefined ? 'is required: the group roles this permission grants, e.g. { roles: [orders_readonly] }' : 'must be a list of role names') })
    .min(1, 'name at least one group role'),
});

/** What a resource means to this provisioner, after checking. */
export interface ResourcePlan {
  resource: string;
  mode: 'login_role' | 'existing_role';
  databases: string[];
  /** Lower-case e-mail → role (existing_role mode). */
  existingRoles: Map<string, string>;
}

export function parseSettings<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  return parseShared(schema, value, where, PostgresSettingsError);
}

export function parseConnection(integration: Integration): ConnectionSettings {
  return parseSettings(ConnectionSettings, integration.connection, `integration "${integration.name}": connection`);
}

export function resourcePlan(integration: Integration, connection: ConnectionSettings, resource: Resource): ResourcePlan {
  const settings = parseSettings(ResourceSettings, resource.settings, `integration "${integration.name}" resource "${resource.name}": settings`);
  const databases = settings.databases ?? [settings.database ?? connection.database];
  const existingRoles = new Map(Object.entries(settings.existingRoles ?? {}).map(([email, role]) => [email.toLowerCase(), role]));
  return { resource: resource.name, mode: settings.mode, databases: [...new Set(databases)], existingRoles };
}

export function permissionRoles(integration: Integration, resource: Resource, permission: string, settings: unknown): string[] {
  const parsed = parseSettings(PermissionSettings, settings, `integration "${integration.name}" resource "${resource.name}" permission "${permission}"`);
  return [...new Set(parsed.roles)];
}

export function assertPrincipal(integration: Integration, principal: string): string {
  if (typeof principal !== 'string' || !SAFE_PRINCIPAL.test(principal) || principal.startsWith('pg_')) {
    throw new PostgresSettingsError(`integration "${integration.name}": principal ${show(principal)} is not a safe login role name (lower-case letters, digits and "_", starting with a letter, at most 63 characters, not starting with "pg_")`);
  }
  return principal;
}

export function assertId(integration: Integration, what: string, id: string): string {
  if (typeof id !== 'string' || !SAFE_ID.test(id)) throw new PostgresSettingsError(`integration "${integration.name}": ${what} ${show(id)} is not a Latch id`);
  return id;
}
