// Access discovery's judgement, without I/O: what a privilege a scanner found lets its
// holder do, how risky a principal's standing access is, and what changed between two
// scans. Scanners (provisioners/discovery/) describe what they saw in these terms; the
// report, the chat views and the digest only ever show what this module decided.
import type { Instant } from './types.js';

/** How much a privilege lets its holder do, lowest first. `identity` changes who may do what (CREATEROLE, iam:*, GRANT OPTION). */
export const PRIVILEGE_LEVELS = ['read', 'write', 'admin', 'identity'] as const;
export type PrivilegeLevel = (typeof PRIVILEGE_LEVELS)[number];

export type ScannedBackend = 'postgresql' | 'mysql' | 'aws-iam';

/** One thing a principal may do, as the scanner found it. */
export interface FoundPrivilege {
  /** attribute (SUPERUSER), membership (of a role), object (SELECT ON t), ownership, global (MySQL *.*), schema (db.*), policy (IAM). */
  kind: 'attribute' | 'membership' | 'object' | 'ownership' | 'global' | 'schema' | 'policy';
  /** The privilege as the backend names it: SUPERUSER, SELECT, a role name, an IAM action. */
  name: string;
  /** What it applies to: `orders.public.invoices`, `shop.*`, `arn:...`; null for the whole server or account. */
  on: string | null;
  /** The role chain it is inherited through (`b → c`); empty when held directly. */
  via: string[];
  /** Granted WITH GRANT / ADMIN OPTION: the holder can hand it on. */
  grantable?: boolean;
  /** Resource labels of where it applies, from the config (sensitivity). */
  labels?: string[];
  /** Where exactly, for remediation to name it in SQL: database, schema, object, objectType, host. */
  target?: Record<string, string>;
}

export interface ScannedPrincipal {
  integration: string;
  backend: ScannedBackend;
  /** The backend's name for it: a role, `'user'@'host'`, an IAM ARN. */
  principal: string;
  kind: 'login' | 'group' | 'user' | 'role';
  /** Whether it can authenticate at all (LOGIN, not locked, an IAM user with a key or password, a role). */
  canLogin: boolean;
  privileges: FoundPrivilege[];
  /** A password that never expires (PostgreSQL without VALID UNTIL). */
  passwordNeverExpires?: boolean;
  locked?: boolean;
  passwordExpired?: boolean;
  /** Last use the backend or Latch's samples saw; null when never seen. */
  lastUsedAt: Instant | null;
  /** When watching for use began (the first activity sample, the IAM tracking window); null when use cannot be seen. */
  watchedSince: Instant | null;
  /** Seen in use right now (an open session in the sample just taken). */
  activeNow?: boolean;
}

export interface ClassifiedPrivilege extends FoundPrivilege {
  level: PrivilegeLevel;
}

export type Usage = 'active' | 'dormant' | 'unknown';

export interface ScoredPrincipal extends Omit<ScannedPrincipal, 'privileges'> {
  privileges: ClassifiedPrivilege[];
  /** The highest level among its privileges; null when it holds nothing worth reporting. */
  level: PrivilegeLevel | null;
  usage: Usage;
  sensitivity: number;
  /** 0-100, higher is riskier. */
  score: number;
  /** Why, most important first, in words for a person. */
  reasons: string[];
}

export interface ScoringOptions {
  now: Instant;
  dormantAfterMs: number;
  /** Label → multiplier (≥ 1). */
  sensitivity: Record<string, number>;
  /** Labels of the integration itself. */
  integrationLabels: (integration: string) => string[];
}

const LEVEL_WEIGHT: Record<PrivilegeLevel, number> = { read: 1, write: 3, admin: 6, identity: 8 };

/** PostgreSQL role attributes and MySQL global privileges that change who may do what. */
const IDENTITY_NAMES = new Set([
  'SUPERUSER', 'CREATEROLE', 'CREATE USER', 'GRANT OPTION', 'SUPER', 'CREATE ROLE', 'DROP ROLE', 'SET USER', 'ALL PRIVILEGES', 'ALL',
]);
const ADMIN_NAMES = new Set([
  'BYPASSRLS', 'REPLICATION', 'CREATEDB', 'CREATE', 'DROP', 'ALTER', 'INDEX', 'RELOAD', 'SHUTDOWN', 'PROCESS', 'FILE', 'REPLICATION SLAVE',
  'REPLICATION CLIENT', 'BINLOG MONITOR', 'BINLOG ADMIN', 'REPLICA MONITOR', 'REPLICATION MASTER ADMIN', 'REPLICATION SLAVE ADMIN',
  'CONNECTION ADMIN', 'READ_ONLY ADMIN', 'FEDERATED ADMIN', 'SLAVE MONITOR', 'SYSTEM_VARIABLES_ADMIN', 'CREATE TABLESPACE', 'EVENT',
  'CREATE ROUTINE', 'ALTER ROUTINE', 'TRIGGER', 'CREATE VIEW', 'TRUNCATE', 'DELETE HISTORY', 'LOCK TABLES',
  'TEMPORARY', 'EXECUTE', 'OWNER',
]);
const WRITE_NAMES = new Set(['INSERT', 'UPDATE', 'DELETE', 'REFERENCES', 'CREATE TEMPORARY TABLES', 'MAINTAIN']);
const READ_NAMES = new Set(['SELECT', 'USAGE', 'CONNECT', 'SHOW DATABASES', 'SHOW VIEW']);

/** PostgreSQL's predefined roles, by what membership lets one do. */
const PREDEFINED_ROLE_LEVEL: Record<string, PrivilegeLevel> = {
  pg_read_all_data: 'read', pg_read_all_settings: 'read', pg_read_all_stats: 'read', pg_stat_scan_tables: 'read', pg_monitor: 'read',
  pg_write_all_data: 'write', pg_checkpoint: 'admin', pg_signal_backend: 'admin', pg_database_owner: 'admin',
  pg_read_server_files: 'admin', pg_write_server_files: 'admin', pg_execute_server_program: 'admin', pg_create_subscription: 'admin',
  rds_superuser: 'identity', azure_pg_admin: 'identity', cloudsqlsuperuser: 'identity',
};

/** What an IAM action lets one do: anything on IAM itself or everything at once is identity control. */
export function iamActionLevel(action: string): PrivilegeLevel {
  const lower = action.toLowerCase();
  if (lower === '*' || lower.startsWith('iam:') && (lower === 'iam:*' || /^iam:(create|attach|put|update|delete|detach|add|remove|pass|set|tag|untag|upload|change|reset|enable|deactivate)/.test(lower))) return 'identity';
  if (lower === 'sts:assumerole' || lower === 'sts:*' || lower === 'organizations:*') return 'identity';
  const verb = lower.split(':')[1] ?? '';
  if (verb === '*' || verb.endsWith('*') && verb.length <= 2) return 'admin';
  if (/^(list|get|describe|head|select|lookup|search|scan|query|batchget|view|check|read)/.test(verb)) return 'read';
  if (/^(delete|terminate|disable|modify|restore|reboot|stop|start|create|attach|detach|authorize|revoke|rotate|schedule|cancel|replace)/.test(verb) && /(cluster|instance|db|key|policy|trail|bucketpolicy|securitygroup)/.test(verb)) return 'admin';
  return 'write';
}

/** The level of one privilege, by what it lets one do where it applies. */
export function classifyPrivilege(privilege: FoundPrivilege): PrivilegeLevel {
  const name = privilege.name.toUpperCase();
  let level: PrivilegeLevel;
  if (privilege.kind === 'policy') level = iamActionLevel(privilege.name);
  else if (privilege.kind === 'ownership') level = 'admin';
  else if (privilege.kind === 'membership') level = PREDEFINED_ROLE_LEVEL[privilege.name] ?? 'read';
  else if (IDENTITY_NAMES.has(name)) level = privilege.kind === 'schema' || privilege.kind === 'object' ? (name === 'GRANT OPTION' ? 'identity' : 'admin') : 'identity';
  else if (ADMIN_NAMES.has(name)) level = privilege.kind === 'object' && (name === 'TRIGGER' || name === 'TRUNCATE') ? 'write' : 'admin';
  else if (WRITE_NAMES.has(name)) level = 'write';
  else if (READ_NAMES.has(name)) level = 'read';
  else level = 'write';
  // Whoever can hand a privilege on decides who else holds it: one step up, and a role
  // membership with ADMIN OPTION is control over that role's members.
  if (privilege.grantable) level = privilege.kind === 'membership' ? 'identity' : level === 'read' ? 'write' : level === 'write' ? 'admin' : level;
  return level;
}

export function levelAtLeast(floor: PrivilegeLevel, level: PrivilegeLevel): boolean {
  return PRIVILEGE_LEVELS.indexOf(level) >= PRIVILEGE_LEVELS.indexOf(floor);
}

function highest(levels: readonly PrivilegeLevel[]): PrivilegeLevel | null {
  let best: PrivilegeLevel | null = null;
  for (const level of levels) if (best === null || levelAtLeast(best, level) && level !== best) best = level;
  return best;
}

/** Active: used within the threshold. Dormant: watched at least that long (or seen last longer ago) and not used. */
export function usageOf(principal: Pick<ScannedPrincipal, 'lastUsedAt' | 'watchedSince' | 'activeNow'>, now: Instant, dormantAfterMs: number): Usage {
  if (principal.activeNow) return 'active';
  if (principal.lastUsedAt !== null && now - principal.lastUsedAt < dormantAfterMs) return 'active';
  if (principal.lastUsedAt !== null) return 'dormant';
  if (principal.watchedSince === null) return 'unknown';
  // Never seen in use since watching began: dormant as far as Latch can tell. A principal
  // that holds privileges and is never seen is exactly what this feature is for; the
  // reason says how long it has been watched so a fresh installation is read with care.
  return 'dormant';
}

const DAY_MS = 86_400_000;

function ago(now: Instant, at: Instant): string {
  const days = Math.floor((now - at) / DAY_MS);
  if (days >= 1) return `${days} day${days === 1 ? '' : 's'} ago`;
  const hours = Math.floor((now - at) / 3_600_000);
  if (hours >= 1) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  return 'less than an hour ago';
}

function describePrivilege(privilege: ClassifiedPrivilege): string {
  const what = privilege.kind === 'membership' ? `member of ${privilege.name}` : privilege.kind === 'ownership' ? `owns ${privilege.name}${privilege.on ? ` ${privilege.on}` : ''}` : `${privilege.name}${privilege.on ? ` on ${privilege.on}` : ''}`;
  const via = privilege.via.length > 0 ? ` (through ${privilege.via.join(' → ')})` : '';
  return `${what}${via}${privilege.grantable ? ' with grant option' : ''}`;
}

/** Classifies every privilege and scores the principal 0-100 with the reasons. */
export function scorePrincipal(principal: ScannedPrincipal, options: ScoringOptions): ScoredPrincipal {
  const privileges: ClassifiedPrivilege[] = principal.privileges.map((privilege) => ({ ...privilege, level: classifyPrivilege(privilege) }));
  const level = highest(privileges.map((privilege) => privilege.level));
  const usage = usageOf(principal, options.now, options.dormantAfterMs);
  const integrationLabels = options.integrationLabels(principal.integration);
  const weigh = (labels: readonly string[]): number => Math.max(1, ...labels.map((label) => options.sensitivity[label] ?? 1));
  const sensitivity = Math.max(weigh(integrationLabels), ...privileges.map((privilege) => weigh(privilege.labels ?? [])));

  const reasons: string[] = [];
  const top = privileges.filter((privilege) => privilege.level === level);
  if (level !== null) {
    const shown = top.slice(0, 3).map(describePrivilege).join('; ');
    reasons.push(`${level === 'identity' ? 'identity control' : level}: ${shown}${top.length > 3 ? ` and ${top.length - 3} more` : ''}`);
  }
  if (usage === 'dormant') {
    reasons.push(principal.lastUsedAt !== null
      ? `dormant: last used ${ago(options.now, principal.lastUsedAt)}`
      : `dormant: never seen in use since watching began ${principal.watchedSince !== null ? ago(options.now, principal.watchedSince) : ''}`.trimEnd());
  } else if (usage === 'active') reasons.push(principal.activeNow ? 'active: in use now' : `active: last used ${ago(options.now, principal.lastUsedAt ?? options.now)}`);
  else reasons.push('use unknown: the backend does not say when it was last used');
  if (sensitivity > 1) reasons.push(`sensitive: ${[...new Set([...integrationLabels, ...privileges.flatMap((privilege) => privilege.labels ?? [])])].filter((label) => (options.sensitivity[label] ?? 1) > 1).join(', ')}`);
  if (principal.passwordNeverExpires && principal.canLogin) reasons.push('password never expires');
  if (principal.passwordExpired) reasons.push('password expired');
  if (principal.locked) reasons.push('account locked');
  if (!principal.canLogin) reasons.push('cannot log in itself (held through members)');

  // Level sets the base; being unused where it matters multiplies it. A principal that
  // cannot log in is a container of privileges, riskier only through its members.
  let raw = level === null ? 0 : LEVEL_WEIGHT[level] + Math.min(2, privileges.filter((privilege) => privilege.level === level).length * 0.25);
  raw *= sensitivity;
  raw *= usage === 'dormant' ? 1.5 : usage === 'unknown' ? 1.25 : 1;
  if (principal.passwordNeverExpires && principal.canLogin) raw += 1;
  if (!principal.canLogin || principal.locked) raw *= 0.5;
  const score = Math.min(100, Math.round(raw * 2));
  return { ...principal, privileges, level, usage, sensitivity, score, reasons };
}

/** Every principal scored, riskiest first; ties by name so the report is stable. */
export function rankPrincipals(principals: readonly ScannedPrincipal[], options: ScoringOptions): ScoredPrincipal[] {
  return principals.map((principal) => scorePrincipal(principal, options))
    .sort((a, b) => b.score - a.score || a.integration.localeCompare(b.integration) || a.principal.localeCompare(b.principal));
}

export interface ScanChange {
  integration: string;
  principal: string;
  change: 'new' | 'gone' | 'riskier' | 'safer';
  score: number;
  previousScore: number | null;
}

/** What a digest tells: principals that appeared, disappeared, or moved by at least `minDelta`. */
export function changesBetween(previous: readonly Pick<ScoredPrincipal, 'integration' | 'principal' | 'score'>[], current: readonly Pick<ScoredPrincipal, 'integration' | 'principal' | 'score'>[], minDelta = 5): ScanChange[] {
  const key = (p: { integration: string; principal: string }): string => `${p.integration}\u0000${p.principal}`;
  const before = new Map(previous.map((p) => [key(p), p]));
  const after = new Map(current.map((p) => [key(p), p]));
  const changes: ScanChange[] = [];
  for (const [k, now] of after) {
    const was = before.get(k);
    if (!was) changes.push({ integration: now.integration, principal: now.principal, change: 'new', score: now.score, previousScore: null });
    else if (now.score - was.score >= minDelta) changes.push({ integration: now.integration, principal: now.principal, change: 'riskier', score: now.score, previousScore: was.score });
    else if (was.score - now.score >= minDelta) changes.push({ integration: now.integration, principal: now.principal, change: 'safer', score: now.score, previousScore: was.score });
  }
  for (const [k, was] of before) if (!after.has(k)) changes.push({ integration: was.integration, principal: was.principal, change: 'gone', score: 0, previousScore: was.score });
  return changes.sort((a, b) => b.score - a.score || a.principal.localeCompare(b.principal));
}
