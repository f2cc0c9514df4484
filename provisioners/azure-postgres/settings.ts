import { z } from 'zod';
import type { Integration, Resource } from '../../config/schema.js';
import { ConnectionSettings as PostgresConnection, DatabaseName, parseSettings, PostgresSettingsError, SAFE_NAME, show } from '../postgres/settings.js';

// The Azure Database for PostgreSQL provisioner's part of the config. Number, database and
// instance rules are the plain PostgreSQL provisioner's (postgres/settings.ts); what is new
// here is the Entra side: principal names that hold "@" and ".", how the connector gets its
// token, and Single Server user names.

/** The Entra scope of Azure Database for PostgreSQL in the public cloud. */
export const AZURE_PG_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

/**
 * Entra principal names as PostgreSQL role names: UPNs (`alice@contoso.com`, guests'
 * `alice_example.com#EXT#@contoso.onmicrosoft.com`), managed identity and app names. No
 * quotes, spaces, semicolons or control characters; at most 63 bytes (NAMEDATALEN - 1).
 * They are still quoted with escapeIdentifier, and passed as parameters where SQL allows.
 */
export const ENTRA_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@#'!^~+-]{0,62}$/;
/** Roles nobody gets through Latch, whatever a mapping says. */
const RESERVED = /^(pg_|azure_)/i;

export function isEntraName(name: unknown): name is string {
  return typeof name === 'string' && ENTRA_NAME.test(name) && Buffer.byteLength(name, 'utf8') <= 63 && !RESERVED.test(name);
}

const EntraName = z.string({ error: 'must be an Entra principal name' })
  .refine(isEntraName, { error: (issue) => `${show(issue.input)} is not a usable Entra principal name (letters, digits and _ . @ # ' ! ^ ~ + -, at most 63 bytes, not starting with pg_ or azure_)` });

const Guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, { error: (issue) => `${show(issue.input)} is not a GUID` });

export const AzureConnectionSettings = z.strictObject({
  host: PostgresConnection.shape.host,
  port: PostgresConnection.shape.port,
  /** The database the connector logs in to; Entra mode needs `postgres` (pgaadauth lives there only). */
  database: DatabaseName.default('postgres'),
  /** The connector's Entra principal name as a role (a managed identity's name, an app's name). */
  user: z.string({ error: (issue) => (issue.input === undefined ? "is required: the connector's Entra principal name (e.g. the managed identity's name)" : 'must be a role name') })
    .refine(isEntraName, { error: (issue) => `${show(issue.input)} is not a usable Entra principal name` }),
  auth: z.enum(['managed-identity', 'workload-identity', 'service-principal'], { error: 'must be "managed-identity", "workload-identity" or "service-principal"' }).default('managed-identity'),
  /** User-assigned managed identity client id, or the app (client) id for workload identity and service principal. */
  clientId: Guid.optional(),
  /** The tenant, for service principal (and workload identity when AZURE_TENANT_ID is not set). */
  tenantId: Guid.optional(),
  /** Single Server: log-in user names carry `@<servername>` (first label of host). Retired by Azure 2025-03-28. */
  singleServer: z.boolean({ error: 'must be true or false' }).default(false),
  /** entra: grantees log in as their own Entra principal; password: a generated login role per grant (plain PostgreSQL provisioner). */
  mode: z.enum(['entra', 'password'], { error: 'must be "entra" or "password"' }).default('entra'),
  /** verify-full (default) or true: TLS with the certificate checked. disable/false: plain (local tests, TLS-terminating proxies). Never "require". */
  ssl: z.union([z.boolean(), z.enum(['disable', 'verify-full'])], { error: 'must be "verify-full" (default) or "disable"; "require" would skip the certificate check and is not offered' }).default('verify-full'),
  sslRootCert: PostgresConnection.shape.sslRootCert,
  maxConnections: PostgresConnection.shape.maxConnections,
  instance: PostgresConnection.shape.instance,
  /** Token audience; change it for sovereign clouds (e.g. https://ossrdbms-aad.database.usgovcloudapi.net/.default). */
  scope: z.string().regex(/^https:\/\/[A-Za-z0-9.-]+\/\.default$/, 'must look like https://ossrdbms-aad.database.windows.net/.default').default(AZURE_PG_SCOPE),
  /**
   * Where service principals and workload identities get their tokens; default: the
   * AZURE_AUTHORITY_HOST environment variable, else the public cloud's login.microsoftonline.com.
   * Sovereign clouds need it with `scope` (e.g. https://login.microsoftonline.us).
   */
  authorityHost: z.string().regex(/^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/, 'must be an https URL without a path, like https://login.microsoftonline.com').optional(),
  /** Test hook: a schema put first on the connector's search_path (a pgaadauth stand-in). Leave unset in production. */
  searchPath: z.string().regex(SAFE_NAME, 'must be a schema name').optional(),
}).superRefine((settings, ctx) => {
  if (settings.auth === 'service-principal' && (!settings.tenantId || !settings.clientId)) {
    ctx.addIssue({ code: 'custom', path: ['auth'], message: 'service-principal needs tenantId and clientId (the app id); the secret comes from credentials: { env: VARIABLE }' });
  }
  if (settings.mode === 'password' && settings.singleServer) {
    ctx.addIssue({ code: 'custom', path: ['mode'], message: 'password mode does not support Single Server user names (user@server); use mode: entra or a Flexible Server' });
  }
  if (settings.mode === 'password' && !SAFE_NAME.test(settings.user)) {
    ctx.addIssue({ code: 'custom', path: ['user'], message: `password mode logs in through the PostgreSQL provisioner, which needs a plain role name (letters, digits, "_", "-"), not ${show(settings.user)}` });
  }
});
export type AzureConnectionSettings = z.output<typeof AzureConnectionSettings>;

const Email = z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { error: (issue) => `${show(issue.input)} is not an e-mail address` });

/** Entra mode resource settings. */
export const EntraResourceSettings = z.strictObject({
  /** The database named in the access details (memberships are cluster-wide). Default: the connection's database. */
  database: DatabaseName.optional(),
  /** Grantee e-mail → Entra principal name, where the UPN is not the e-mail. */
  principals: z.record(Email, EntraName, { error: 'must map e-mail addresses to Entra principal names' }).optional(),
});

export interface EntraResourcePlan {
  resource: string;
  database: string;
  principals: Map<string, string>;
}

export function parseAzureConnection(integration: Integration): AzureConnectionSettings {
  return parseSettings(AzureConnectionSettings, integration.connection, `integration "${integration.name}": connection`);
}

export function entraResourcePlan(integration: Integration, connection: AzureConnectionSettings, resource: Resource): EntraResourcePlan {
  const settings = parseSettings(EntraResourceSettings, resource.settings, `integration "${integration.name}" resource "${resource.name}": settings`);
  const principals = new Map(Object.entries(settings.principals ?? {}).map(([email, name]) => [email.toLowerCase(), name]));
  return { resource: resource.name, database: settings.database ?? connection.database, principals };
}

/** The grantee's Entra principal: the mapping, else the e-mail itself. Refuses anything unsafe before SQL. */
export function entraPrincipal(integration: Integration, plan: EntraResourcePlan, grantee: string): string {
  const name = plan.principals.get(grantee.toLowerCase()) ?? grantee;
  if (!isEntraName(name)) {
    throw new PostgresSettingsError(`integration "${integration.name}" resource "${plan.resource}": ${show(name)} is not a usable Entra principal name; map the grantee in settings.principals`);
  }
  return name;
}

/** `name@server` on Single Server, `name` on Flexible Server. */
export function loginName(connection: AzureConnectionSettings, name: string): string {
  if (!connection.singleServer) return name;
  const server = connection.host.split('.')[0] ?? connection.host;
  return `${name}@${server}`;
}
