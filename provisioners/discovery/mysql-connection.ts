import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { Connection, SslOptions } from 'mysql2/promise';
import type { Integration } from '../../config/schema.js';
import { parseConnection, type ConnectionSettings } from '../mysql/settings.js';
import { connectorPassword, DiscoveryConnectionError } from './postgres-connection.js';

/** One connection with the integration's connector settings (as the MySQL provisioner logs in); the caller ends it. */
export async function openMysqlConnection(integration: Integration, env: NodeJS.ProcessEnv): Promise<{ conn: Connection; connection: ConnectionSettings; mariadb: boolean }> {
  const connection = parseConnection(integration);
  const { host, port, user, ssl, sslCa } = connection;
  let tls: SslOptions | undefined;
  if (ssl === 'require') tls = { rejectUnauthorized: false };
  else if (ssl === true || ssl === 'verify-full') tls = { rejectUnauthorized: true, ...(sslCa ? { ca: readFileSync(sslCa, 'utf8') } : {}) };
  const password = connectorPassword(integration, env);
  let conn: Connection;
  try {
    conn = await mysql.createConnection({ host, port, user, ...(password !== undefined ? { password } : {}), connectTimeout: 10_000, charset: 'utf8mb4', ...(tls ? { ssl: tls } : {}) });
  } catch (error) {
    throw new DiscoveryConnectionError(`integration "${integration.name}": cannot connect to MySQL at ${host}:${port} as ${user}: ${error instanceof Error ? error.message : String(error)}`);
  }
  conn.on('error', () => undefined);
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
  const version = String(rows[0]?.version ?? '');
  return { conn, connection, mariadb: /mariadb/i.test(version) };
}
