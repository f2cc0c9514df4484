import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Integration } from '../../config/schema.js';
import { parseConnection, type ConnectionSettings } from '../postgres/settings.js';

// Discovery logs in with the integration's own connector settings and credentials, exactly
// as the provisioner does, but opens short-lived clients: a scan touches every database
// once and is over, so a pool per database would only hold connections open.

export class DiscoveryConnectionError extends Error {
  override name = 'DiscoveryConnectionError';
}

export function connectorPassword(integration: Integration, env: NodeJS.ProcessEnv): string | undefined {
  const { credentials, name } = integration;
  if ('secret' in credentials) throw new DiscoveryConnectionError(`integration "${name}": secret references are not supported for discovery yet; use credentials: { env: VARIABLE }`);
  if ('env' in credentials) {
    const password = env[credentials.env];
    if (password === undefined || password === '') throw new DiscoveryConnectionError(`integration "${name}": environment variable ${credentials.env} is not set`);
    return password;
  }
  return undefined;
}

/** Opens one client on `database` (the connection's own database when left out); the caller ends it. */
export async function openPostgresClient(integration: Integration, env: NodeJS.ProcessEnv, database?: string): Promise<{ client: pg.Client; connection: ConnectionSettings }> {
  const connection = parseConnection(integration);
  const { host, port, user, ssl, sslRootCert } = connection;
  let tls: pg.ClientConfig['ssl'] = false;
  if (ssl === 'require') tls = { rejectUnauthorized: false };
  else if (ssl === true || ssl === 'verify-full') tls = { rejectUnauthorized: true, ...(sslRootCert ? { ca: readFileSync(sslRootCert, 'utf8') } : {}) };
  const target = database ?? connection.database;
  const client = new pg.Client({
    host, port, database: target, user, password: connectorPassword(integration, env), ssl: tls,
    application_name: 'latch-discovery', connectionTimeoutMillis: 10_000, statement_timeout: 60_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new DiscoveryConnectionError(`integration "${integration.name}": cannot connect to PostgreSQL at ${host}:${port}, database ${target}, as ${user}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { client, connection };
}
