import pg from 'pg';
import type { Integration } from '../../config/schema.js';
import type { ClassifiedPrivilege } from '../../core/discovery.js';
import type { RemediationChange } from '../../storage/discovery-store.js';
import { openPostgresClient } from './postgres-connection.js';
import { RemediationError } from './remediation-error.js';

// Turning a PostgreSQL role's standing privileges into statements: one REVOKE (or ALTER
// ROLE ... NO<attribute>) per privilege it holds itself, each with the GRANT that puts it
// back. Inherited privileges are removed where they come from (the direct membership),
// never on the role that grants them to others. What a role owns is not taken away: a
// new owner is a decision for a person (REASSIGN OWNED), so the proposal names it instead.
// Names come from the catalogs the scan read and still go through the driver's quoting.

const { escapeIdentifier: id } = pg;

const ATTRIBUTES = new Set(['SUPERUSER', 'CREATEROLE', 'CREATEDB', 'BYPASSRLS', 'REPLICATION']);
const OBJECT_PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'USAGE', 'CREATE', 'CONNECT', 'TEMPORARY', 'EXECUTE', 'MAINTAIN']);

function describe(privilege: ClassifiedPrivilege): string {
  if (privilege.kind === 'membership') return `member of ${privilege.name}${privilege.grantable ? ' with admin option' : ''}`;
  return `${privilege.name}${privilege.on ? ` on ${privilege.on}` : ''}${privilege.grantable ? ' with grant option' : ''}`;
}

function objectClause(target: Record<string, string>): string | null {
  const { objectType, object, schema } = target;
  if (!object) return null;
  if (objectType === 'database') return `DATABASE ${id(object)}`;
  if (objectType === 'schema') return `SCHEMA ${id(object)}`;
  if (!schema) return null;
  if (objectType === 'sequence') return `SEQUENCE ${id(schema)}.${id(object)}`;
  return `TABLE ${id(schema)}.${id(object)}`;
}

/** The changes that remove what `role` holds itself, and what is left for a person to decide. */
export function planPostgresRemediation(role: string, privileges: readonly ClassifiedPrivilege[]): { changes: RemediationChange[]; left: string[] } {
  const changes: RemediationChange[] = [];
  const left: string[] = [];
  const r = id(role);
  for (const privilege of privileges) {
    if (privilege.via.length > 0) continue;
    const target = privilege.target ?? {};
    if (privilege.kind === 'attribute' && ATTRIBUTES.has(privilege.name)) {
      changes.push({ privilege: describe(privilege), revoke: `ALTER ROLE ${r} NO${privilege.name}`, restore: `ALTER ROLE ${r} ${privilege.name}` });
    } else if (privilege.kind === 'membership' && target.role) {
      changes.push({ privilege: describe(privilege), revoke: `REVOKE ${id(target.role)} FROM ${r}`, restore: `GRANT ${id(target.role)} TO ${r}${privilege.grantable ? ' WITH ADMIN OPTION' : ''}` });
    } else if (privilege.kind === 'object' && OBJECT_PRIVILEGES.has(privilege.name) && objectClause(target)) {
      const on = objectClause(target);
      // Database-wide grants run anywhere; a schema's or a table's only in its own database.
      const database = target.objectType === 'database' ? undefined : target.database;
      changes.push({
        privilege: describe(privilege), ...(database ? { database } : {}),
        revoke: `REVOKE ${privilege.name} ON ${on} FROM ${r}`, restore: `GRANT ${privilege.name} ON ${on} TO ${r}${privilege.grantable ? ' WITH GRANT OPTION' : ''}`,
      });
    } else if (privilege.kind === 'ownership') {
      left.push(`owns ${privilege.name} ${privilege.on ?? ''}`.trim());
    }
  }
  return { changes, left };
}

/**
 * Runs one side of the changes (`revoke` or `restore`), one transaction per database. When
 * a database's statements fail, the databases already done are put back, so a remediation
 * is applied whole or not at all.
 */
export async function applyPostgresChanges(integration: Integration, env: NodeJS.ProcessEnv, changes: readonly RemediationChange[], side: 'revoke' | 'restore'): Promise<void> {
  const groups = new Map<string | undefined, RemediationChange[]>();
  for (const change of changes) groups.set(change.database, [...(groups.get(change.database) ?? []), change]);
  const done: RemediationChange[][] = [];
  for (const [database, group] of groups) {
    const { client } = await openPostgresClient(integration, env, database);
    try {
      await client.query('BEGIN');
      for (const change of group) {
        try {
          await client.query(change[side]);
        } catch (error) {
          throw new RemediationError(`integration "${integration.name}": ${change[side]} failed${database ? ` in database ${database}` : ''}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await client.query('COMMIT');
      done.push(group);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      const other = side === 'revoke' ? 'restore' : 'revoke';
      for (const applied of done.reverse()) await applyPostgresChanges(integration, env, applied, other).catch(() => undefined);
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
