import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

// The same tables as storage/sqlite/schema.ts, column for column, so one Store contract holds
// for both and `latch store copy` moves rows unchanged. Instants are bigint epoch
// milliseconds read as JavaScript numbers: exact up to 2^53 ms (year 287396), far beyond any
// instant Latch records. JSON stays text, so the audit hash is computed over the same bytes.
const instant = (name: string) => bigint(name, { mode: 'number' });

export const requests = pgTable('requests', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  parentId: text('parent_id'),
  flow: text('flow').notNull(),
  bundle: text('bundle'),
  requester: text('requester').notNull(),
  grantee: text('grantee').notNull(),
  reason: text('reason'),
  durationMs: instant('duration_ms').notNull(),
  state: text('state').notNull(),
  version: integer('version').notNull(),
  step: integer('step').notNull().default(0),
  createdAt: instant('created_at').notNull(),
  updatedAt: instant('updated_at').notNull(),
  timeoutAt: instant('timeout_at'),
  decidedAt: instant('decided_at'),
  decidedBy: text('decided_by'),
  expiresAt: instant('expires_at'),
  endedAt: instant('ended_at'),
  endedBy: text('ended_by'),
  outcome: text('outcome'),
  /** SHA-256 of the config the request was evaluated under. */
  policy: text('policy'),
  /** JSON facts frozen when the request was made, for people to read (an extension's history). */
  context: text('context'),
  /** A scheduled start: the access is granted at this instant, not at approval. */
  startAt: instant('start_at'),
}, (table) => [
  index('requests_state').on(table.state),
  index('requests_requester').on(table.requester),
  index('requests_grantee').on(table.grantee),
  index('requests_parent').on(table.parentId),
]);

export const grants = pgTable('grants', {
  id: text('id').primaryKey(),
  requestId: text('request_id').notNull().references(() => requests.id),
  integration: text('integration').notNull(),
  resource: text('resource').notNull(),
  permission: text('permission').notNull(),
  state: text('state').notNull(),
  principal: text('principal'),
  grantedAt: instant('granted_at'),
  revokedAt: instant('revoked_at'),
  lastError: text('last_error'),
}, (table) => [
  index('grants_request').on(table.requestId),
  index('grants_state').on(table.state),
]);

export const decisions = pgTable('decisions', {
  id: text('id').primaryKey(),
  requestId: text('request_id').notNull().references(() => requests.id),
  step: integer('step').notNull(),
  approver: text('approver').notNull(),
  verdict: text('verdict').notNull(),
  comment: text('comment'),
  at: instant('at').notNull(),
}, (table) => [
  // The store refuses a second decision by the same person on the same step, whatever the code above it does.
  uniqueIndex('decisions_once').on(table.requestId, table.step, table.approver),
]);

export const jobs = pgTable('jobs', {
  // By default, not always: `store copy` keeps the ids a SQLite installation gave its jobs.
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  kind: text('kind').notNull(),
  requestId: text('request_id'),
  payload: text('payload').notNull().default('{}'),
  runAt: instant('run_at').notNull(),
  state: text('state').notNull(),
  attempts: integer('attempts').notNull().default(0),
  claimedBy: text('claimed_by'),
  leaseUntil: instant('lease_until'),
  lastError: text('last_error'),
  dedupeKey: text('dedupe_key'),
  createdAt: instant('created_at').notNull(),
  finishedAt: instant('finished_at'),
}, (table) => [
  index('jobs_due').on(table.state, table.runAt),
  index('jobs_request').on(table.requestId),
  uniqueIndex('jobs_dedupe').on(table.dedupeKey).where(sql`${table.dedupeKey} IS NOT NULL`),
]);

export const auditEvents = pgTable('audit_events', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  at: instant('at').notNull(),
  type: text('type').notNull(),
  requestId: text('request_id'),
  actor: text('actor').notNull(),
  data: text('data').notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
}, (table) => [
  index('audit_at').on(table.at),
  index('audit_request').on(table.requestId),
]);

export const chatMessages = pgTable('chat_messages', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  requestId: text('request_id').notNull(),
  platform: text('platform').notNull(),
  channel: text('channel').notNull(),
  messageId: text('message_id').notNull(),
  recipient: text('recipient'),
  purpose: text('purpose').notNull(),
  createdAt: instant('created_at').notNull(),
}, (table) => [
  index('chat_messages_request').on(table.requestId),
  uniqueIndex('chat_messages_unique').on(table.platform, table.channel, table.messageId),
]);

/** Chat accounts bound to Latch identities; see storage/sqlite/schema.ts for the rules. */
export const identities = pgTable('identities', {
  platform: text('platform').notNull(),
  platformUserId: text('platform_user_id').notNull(),
  email: text('email').notNull(),
  address: text('address'),
  updatedAt: instant('updated_at').notNull(),
  state: text('state').notNull().default('bound'),
  reportedEmail: text('reported_email'),
  chatId: text('chat_id'),
  boundAt: instant('bound_at').notNull().default(0),
  boundBy: text('bound_by').notNull().default('latch'),
  checkedAt: instant('checked_at').notNull().default(0),
}, (table) => [
  primaryKey({ columns: [table.platform, table.platformUserId] }),
  index('identities_email').on(table.email),
]);

/** Chat deliveries already acted on: the primary key makes a delivery act once across every instance. */
export const deliveries = pgTable('deliveries', {
  id: text('id').primaryKey(),
  at: instant('at').notNull(),
}, (table) => [index('deliveries_at').on(table.at)]);

/** How far each audit sink has received the audit log, with a lease for one streaming instance. */
export const auditSinkCursors = pgTable('audit_sink_cursors', {
  sink: text('sink').primaryKey(),
  deliveredSeq: bigint('delivered_seq', { mode: 'number' }).notNull(),
  deliveredAt: instant('delivered_at'),
  createdAt: instant('created_at').notNull(),
  owner: text('owner'),
  leaseUntil: instant('lease_until'),
});

/** People as each identity source last reported them, keyed by the source's immutable id; see storage/sqlite/schema.ts. */
export const identityPeople = pgTable('identity_people', {
  source: text('source').notNull(),
  sourceId: text('source_id').notNull(),
  email: text('email').notNull(),
  login: text('login'),
  name: text('name'),
  manager: text('manager'),
  active: boolean('active').notNull(),
  deleted: boolean('deleted').notNull().default(false),
  updatedAt: instant('updated_at').notNull(),
}, (table) => [
  primaryKey({ columns: [table.source, table.sourceId] }),
  index('identity_people_email').on(table.email),
]);

/** Groups of each identity source that config groups name, with their members' source ids as a JSON array. */
export const identityGroups = pgTable('identity_groups', {
  source: text('source').notNull(),
  sourceId: text('source_id').notNull(),
  name: text('name').notNull(),
  members: text('members').notNull(),
  updatedAt: instant('updated_at').notNull(),
}, (table) => [primaryKey({ columns: [table.source, table.sourceId] })]);

/** How each identity source's syncs went. */
export const identitySyncs = pgTable('identity_syncs', {
  source: text('source').primaryKey(),
  lastAttemptAt: instant('last_attempt_at'),
  lastSuccessAt: instant('last_success_at'),
  lastError: text('last_error'),
  heldAt: instant('held_at'),
  heldMessage: text('held_message'),
  people: integer('people').notNull().default(0),
  groups: integer('groups').notNull().default(0),
});

/** Access discovery's activity samples (storage/sqlite/schema.ts). */
export const discoverySamples = pgTable('discovery_samples', {
  integration: text('integration').notNull(),
  principal: text('principal').notNull(),
  sampledAt: bigint('sampled_at', { mode: 'number' }).notNull(),
  sessions: integer('sessions').notNull(),
}, (table) => [primaryKey({ columns: [table.integration, table.principal, table.sampledAt] })]);

export const discoveryRemediations = pgTable('discovery_remediations', {
  id: text('id').primaryKey(),
  integration: text('integration').notNull(),
  principal: text('principal').notNull(),
  changes: text('changes').notNull(),
  actor: text('actor').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  undoUntil: bigint('undo_until', { mode: 'number' }).notNull(),
  undoneAt: bigint('undone_at', { mode: 'number' }),
  undoneBy: text('undone_by'),
});

export const discoveryScans = pgTable('discovery_scans', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  scannedAt: bigint('scanned_at', { mode: 'number' }).notNull(),
  summary: text('summary').notNull(),
});

/** RDS discovery's last listing of each block and region (storage/sqlite/schema.ts). */
export const rdsDiscoveryListings = pgTable('rds_discovery_listings', {
  discovery: text('discovery').notNull(),
  region: text('region').notNull(),
  listedAt: instant('listed_at'),
  instances: text('instances'),
  problems: text('problems').notNull(),
  offered: text('offered').notNull(),
  retained: text('retained').notNull(),
}, (table) => [primaryKey({ columns: [table.discovery, table.region] })]);
