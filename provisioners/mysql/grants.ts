import { patternCovers } from './settings.js';

// Reads the connector's own `SHOW GRANTS`, which every account may run for itself on both
// MariaDB and MySQL 8 and which, unlike INFORMATION_SCHEMA.USER_PRIVILEGES, also lists
// MySQL's dynamic privileges (CONNECTION_ADMIN, ROLE_ADMIN, SYSTEM_USER) and the roles held
// WITH ADMIN OPTION. Used by the health check only: it says what the connector holds, the
// server still decides every statement.

export interface ConnectorGrants {
  /** Upper-case privileges held on `*.*`; `ALL PRIVILEGES` appears as `ALL`. */
  global: Set<string>;
  globalGrantable: boolean;
  /** Schema-level grants; `pattern` may hold `_`/`%` wildcards as written in the GRANT. */
  schemas: { pattern: string; privileges: Set<string>; grantable: boolean }[];
  tables: { schema: string; table: string; privileges: Set<string>; grantable: boolean }[];
  /** Roles granted to the connector, and whether it may grant them on. */
  roles: { role: string; admin: boolean }[];
}

const QUOTED = '`((?:[^`]|``)*)`';
const TARGET = new RegExp(`^(?:\\*|${QUOTED})\\.(?:\\*|${QUOTED})$`);
const PRIVILEGE_LINE = /^GRANT (.+?) ON (\S+) TO (.+)$/;
const ROLE_LINE = new RegExp(`^GRANT ((?:${QUOTED}(?:@${QUOTED})?\\s*,?\\s*)+) TO (.+)$`);
const ROLE_NAME = new RegExp(`${QUOTED}(?:@${QUOTED})?`, 'g');

function unquote(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.replace(/``/g, '`');
}

/** `SELECT, INSERT, UPDATE (a, b)` → SELECT, INSERT, UPDATE; MySQL writes `CONNECTION_ADMIN,ROLE_ADMIN`. */
function privilegeList(text: string): Set<string> {
  const words = new Set<string>();
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    else if (char === ')') depth = Math.max(0, depth - 1);
    else if (char === ',' && depth === 0) {
      words.add(current.trim().toUpperCase());
      current = '';
    } else if (depth === 0) current += char;
  }
  words.add(current.trim().toUpperCase());
  words.delete('');
  if (words.has('ALL PRIVILEGES')) words.add('ALL');
  return words;
}

export function parseShowGrants(lines: readonly string[]): ConnectorGrants {
  const grants: ConnectorGrants = { global: new Set(), globalGrantable: false, schemas: [], tables: [], roles: [] };
  for (const line of lines) {
    const text = line.trim();
    const privilegeLine = PRIVILEGE_LINE.exec(text);
    if (privilegeLine && !text.startsWith('GRANT `')) {
      const [, list = '', target = '', rest = ''] = privilegeLine;
      const grantable = /\bWITH GRANT OPTION\b/.test(rest);
      const privileges = privilegeList(list);
      if (target === '*.*') {
        for (const privilege of privileges) grants.global.add(privilege);
        grants.globalGrantable ||= grantable;
        continue;
      }
      const parts = TARGET.exec(target);
      if (!parts) continue; // PROXY, PROCEDURE and FUNCTION grants say nothing Latch needs
      const schema = unquote(parts[1]);
      const table = unquote(parts[2]);
      if (schema === undefined) continue;
      if (table === undefined) grants.schemas.push({ pattern: schema, privileges, grantable });
      else grants.tables.push({ schema, table, privileges, grantable });
      continue;
    }
    const roleLine = ROLE_LINE.exec(text);
    if (roleLine) {
      const admin = /\bWITH ADMIN OPTION\s*$/.test(roleLine[roleLine.length - 1] ?? '');
      for (const match of (roleLine[1] ?? '').matchAll(ROLE_NAME)) {
        const role = unquote(match[1]);
        if (role !== undefined) grants.roles.push({ role, admin });
      }
    }
  }
  return grants;
}

function holds(privileges: Set<string>, privilege: string): boolean {
  return privileges.has(privilege) || privileges.has('ALL');
}

/** Whether one grant line lets the connector pass `privilege` on `schema.*` / `schema.table` on. */
export function canGrant(grants: ConnectorGrants, privilege: string, schema: string, table: string | null): boolean {
  if (grants.globalGrantable && holds(grants.global, privilege)) return true;
  if (grants.schemas.some((entry) => entry.grantable && holds(entry.privileges, privilege) && patternCovers(entry.pattern, schema))) return true;
  if (table === null) return false;
  return grants.tables.some((entry) => entry.grantable && holds(entry.privileges, privilege)
    && entry.schema.toLowerCase() === schema.toLowerCase() && entry.table.toLowerCase() === table.toLowerCase());
}

/** Whether the connector holds a global privilege (any of `names`). */
export function holdsGlobal(grants: ConnectorGrants, ...names: string[]): boolean {
  return names.some((name) => grants.global.has(name)) || (grants.global.has('ALL') && names.some((name) => !name.includes('_')));
}

/** Whether the connector holds `privilege` on `schema.*` itself (not through `*.*`). */
export function holdsOnSchema(grants: ConnectorGrants, privilege: string, schema: string): boolean {
  return grants.schemas.some((entry) => holds(entry.privileges, privilege) && patternCovers(entry.pattern, schema));
}
