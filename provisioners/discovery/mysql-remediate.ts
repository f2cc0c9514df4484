import mysql from 'mysql2/promise';
import type { Integration } from '../../config/schema.js';
import type { ClassifiedPrivilege } from '../../core/discovery.js';
import type { RemediationChange } from '../../storage/discovery-store.js';
import { openMysqlConnection } from './mysql-connection.js';
import { RemediationError } from './remediation-error.js';

// MySQL/MariaDB: one REVOKE per privilege level the account holds itself (*.*, a schema, a
// table), with every privilege there and the grant option, and one per role granted to it
// directly; each with the GRANT that restores it. The grant option is a property of the
// level in MySQL, not of one privilege, so it is taken and given back per level. GRANT and
// REVOKE commit on their own here, so a failure part-way puts back what was already done.

/** Privilege names as information_schema spells them: upper-case words. */
const PRIVILEGE_NAME = /^[A-Z][A-Z ]{0,40}$/;

function account(user: string, host: string): string {
  // A MariaDB role has no host and is named as an identifier.
  return host === '' ? mysql.format('??', [user]) : mysql.format('?@?', [user, host]);
}

export function planMysqlRemediation(privileges: readonly ClassifiedPrivilege[]): { changes: RemediationChange[]; left: string[] } {
  const levels = new Map<string, { on: string; text: string; names: string[]; grantable: boolean; who: string }>();
  const changes: RemediationChange[] = [];
  const left: string[] = [];
  for (const privilege of privileges) {
    if (privilege.via.length > 0) continue;
    const target = privilege.target ?? {};
    if (target.user === undefined || target.host === undefined) continue;
    const who = account(target.user, target.host);
    if (privilege.kind === 'membership' && target.role !== undefined) {
      const role = account(target.role, target.roleHost ?? '');
      changes.push({ privilege: `member of ${privilege.name}${privilege.grantable ? ' with admin option' : ''}`, revoke: `REVOKE ${role} FROM ${who}`, restore: `GRANT ${role} TO ${who}${privilege.grantable ? ' WITH ADMIN OPTION' : ''}` });
      continue;
    }
    if (!PRIVILEGE_NAME.test(privilege.name)) {
      left.push(`${privilege.name} on ${privilege.on ?? '*.*'} (not a privilege name Latch revokes)`);
      continue;
    }
    let on: string;
    if (privilege.kind === 'global') on = '*.*';
    else if (privilege.kind === 'schema' && target.schema) on = `${mysql.format('??', [target.schema])}.*`;
    else if (privilege.kind === 'object' && target.schema && target.object) on = mysql.format('??.??', [target.schema, target.object]);
    else continue;
    const key = `${who} ${on}`;
    const level = levels.get(key) ?? { on, text: privilege.on ?? '*.*', names: [], grantable: false, who };
    level.names.push(privilege.name);
    level.grantable ||= privilege.grantable === true;
    levels.set(key, level);
  }
  for (const level of levels.values()) {
    const names = level.names.join(', ');
    changes.push({
      privilege: `${names} on ${level.text}${level.grantable ? ' with grant option' : ''}`,
      revoke: `REVOKE ${names}${level.grantable ? ', GRANT OPTION' : ''} ON ${level.on} FROM ${level.who}`,
      restore: `GRANT ${names} ON ${level.on} TO ${level.who}${level.grantable ? ' WITH GRANT OPTION' : ''}`,
    });
  }
  return { changes, left };
}

export async function applyMysqlChanges(integration: Integration, env: NodeJS.ProcessEnv, changes: readonly RemediationChange[], side: 'revoke' | 'restore'): Promise<void> {
  const { conn } = await openMysqlConnection(integration, env);
  const done: RemediationChange[] = [];
  try {
    for (const change of changes) {
      try {
        await conn.query(change[side]);
        done.push(change);
      } catch (error) {
        const other = side === 'revoke' ? 'restore' : 'revoke';
        for (const applied of done.reverse()) await conn.query(applied[other]).catch(() => undefined);
        throw new RemediationError(`integration "${integration.name}": ${change[side]} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
}
