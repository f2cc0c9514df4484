import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

// Instants are integer epoch milliseconds: exact to compare, and the same in PostgreSQL (bigint).

export const requests = sqliteTable('requests', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  parentId: text('parent_id'),
  flow: text('flow').notNull(),
  bundle: text('bundle'),
  requester: text('requester').notNull(),
  grantee: text('grantee').notNull(),
  reason: text('reason'),
  durationMs: integer('duration_ms').notNull(),
  state: text('state').notNull(),
  version: integer('version').notNull(),
  step: integer('step').notNull().default(0),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  timeoutAt: integer('timeout_at'),
  decidedAt: integer('decided_at'),
  decidedBy: text('decided_by'),
  expiresAt: integer('expires_at'),
  endedAt: integer('ended_at'),
  endedBy: text('ended_by'),
  outcome: text('outcome'),
  /** SHA-256 of the config the request was evaluated under. */
  policy: text('policy'),
  /** JSON facts frozen when the request was made, for people to read (an extension's history). */
  context: text('context'),
  /** A scheduled start: the access is granted at this instant, not at approval. */
  startAt: integer('start_at'),
}, (table) => [
  index('requests_state').on(table.state),
  index('requests_requester').on(table.requester),
  index('requests_grantee').on(table.grantee),
  index('requests_parent').on(table.parentId),
]);

export const grants = sqliteTable('grants', {
  id: text('id').primaryKey(),
  requestId: text('request_id').notNull().references(() => requests.id),
  integration: text('integration').notNull(),
  resource: text('resource').notNull(),
  permission: text('permission').notNull(),
  state: text('state').notNull(),
  principal: text('principal'),
  grantedAt: integer('granted_at'),
  revokedAt: integer('revoked_at'),
  lastError: text('last_error'),
}, (table) => [
  index('grants_request').on(table.requestId),
  index('grants_state').on(table.state),
]);

export const decisions = sqliteTable('decisions', {
  id: text('id').primaryKey(),
  requestId: text('request_id').notNull().references(() => requests.id),
  step: integer('step').notNull(),
  approver: text('approver').notNull(),
  verdict: text('verdict').notNull(),
  comment: text('comment'),
  at: integer('at').notNull(),
}, (table) => [
  // The store refuses a second decision by the same person on the same step, whatever the code above it does.
  uniqueIndex('decisions_once').on(table.requestId, table.step, table.approver),
]);

export const jobs = sqliteTable('jobs', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  kind: text('kind').notNull(),
  requestId: text('request_id'),
  payload: text('payload').notNull().default('{}'),
  runAt: integer('run_at').notNull(),
  state: text('state').notNull(),
  attempts: integer('attempts').notNull().default(0),
  claimedBy: text('claimed_by'),
  leaseUntil: integer('lease_until'),
  lastError: text('last_error'),
  dedupeKey: text('dedupe_key'),
  createdAt: integer('created_at').notNull(),
  finishedAt: integer('finished_at'),
}, (table) => [
  index('jobs_due').on(table.state, table.runAt),
  index('jobs_request').on(table.requestId),
  uniqueIndex('jobs_dedupe').on(table.dedupeKey).where(sql`${table.dedupeKey} IS NOT NULL`),
]);

export const auditEvents = sqliteTable('audit_events', {
  seq: integer('seq').primaryKey(),
  at: integer('at').notNull(),
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

export const chatMessages = sqliteTable('chat_messages', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  requestId: text('request_id').notNull(),
  platform: text('platform').notNull(),
  channel: text('channel').notNull(),
  messageId: text('message_id').notNull(),
  recipient: text('recipient'),
  purpose: text('purpose').notNull(),
  createdAt: integer('created_at').notNull(),
}, (table) => [
  index('chat_messages_request').on(table.requestId),
  uniqueIndex('chat_messages_unique').on(table.platform, table.channel, table.messageId),
]);

/**
 * Chat accounts bound to Latch identities. The platform's immutable id (Slack user id, Teams
 * AAD object id) is the key and decides who acts; the e-mail the platform reports is only
 * compared with the bound one, and a difference stops the account until an admin rebinds it.
 */
export const identities = sqliteTable('identities', {
  platform: text('platform').notNull(),
  platformUserId: text('platform_user_id').notNull(),
  /** The Latch identity the account acts as (for a `duplicate_email` account: the e-mail it claims). */
  email: text('email').notNull(),
  /** How to reach the person proactively on this platform (a Teams conversation reference), as JSON. */
  address: text('address'),
  updatedAt: integer('updated_at').notNull(),
  /** `bound`, or why Latch refuses to act for the account: `email_changed`, `duplicate_email`. */
  state: text('state').notNull().default('bound'),
  /** The e-mail the platform reports when it is not the bound one. */
  reportedEmail: text('reported_email'),
  /** The id the platform addresses the account by, when it is not the key (Teams: the 29: id). */
  chatId: text('chat_id'),
  boundAt: integer('bound_at').notNull().default(0),
  /** `latch` when bound on first sight, else who rebound it. */
  boundBy: text('bound_by').notNull().default('latch'),
  /** When the platform's e-mail for the account was last read (0: never since the binding existed). */
  checkedAt: integer('checked_at').notNull().default(0),
}, (table) => [
  primaryKey({ columns: [table.platform, table.platformUserId] }),
  index('identities_email').on(table.email),
]);

/** Chat deliveries already acted on (Slack retries, double clicks): written with the transition they caused. */
export const deliveries = sqliteTable('deliveries', {
  id: text('id').primaryKey(),
  at: integer('at').notNull(),
}, (table) => [index('deliveries_at').on(table.at)]);

/**
 * How far each audit sink has received the audit log: the audit log is the sink's outbox,
 * this row its delivery record. One process streams to a sink at a time (the lease), in
 * `seq` order, so a restart resumes after `deliveredSeq` and no event overtakes another.
 */
export const auditSinkCursors = sqliteTable('audit_sink_cursors', {
  sink: text('sink').primaryKey(),
  /** The `seq` of the last audit event the sink acknowledged (0: none yet). */
  deliveredSeq: integer('delivered_seq').notNull(),
  deliveredAt: integer('delivered_at'),
  createdAt: integer('created_at').notNull(),
  owner: text('owner'),
  leaseUntil: integer('lease_until'),
});

/**
 * People as each identity source last reported them, keyed by the source's immutable id
 * (an e-mail can move between accounts; the id cannot). Inactive people stay as rows:
 * they are how a leaver is recognised on later syncs and shown by `identities show`.
 */
export const identityPeople = sqliteTable('identity_people', {
  source: text('source').notNull(),
  sourceId: text('source_id').notNull(),
  email: text('email').notNull(),
  /** The account's sign-in name when it is not the e-mail (a UPN, a SCIM userName). */
  login: text('login'),
  name: text('name'),
  /** The manager's e-mail, as the source names them. */
  manager: text('manager'),
  active: integer('active', { mode: 'boolean' }).notNull(),
  /** The source no longer lists the person (or SCIM deleted them): kept, inactive, so they stay a leaver. */
  deleted: integer('deleted', { mode: 'boolean' }).notNull().default(false),
  updatedAt: integer('updated_at').notNull(),
}, (table) => [
  primaryKey({ columns: [table.source, table.sourceId] }),
  index('identity_people_email').on(table.email),
]);

/** Groups of each identity source that config groups name, with their members' source ids (nested groups flattened). */
export const identityGroups = sqliteTable('identity_groups', {
  source: text('source').notNull(),
  sourceId: text('source_id').notNull(),
  name: text('name').notNull(),
  /** JSON array of the members' source ids. */
  members: text('members').notNull(),
  updatedAt: integer('updated_at').notNull(),
}, (table) => [primaryKey({ columns: [table.source, table.sourceId] })]);

/** How each identity source's syncs went: the last success is what /healthz and /metrics show. */
export const identitySyncs = sqliteTable('identity_syncs', {
  source: text('source').primaryKey(),
  lastAttemptAt: integer('last_attempt_at'),
  lastSuccessAt: integer('last_success_at'),
  lastError: text('last_error'),
  /** Set while an answer is held for disabling too many people at once. */
  heldAt: integer('held_at'),
  heldMessage: text('held_message'),
  people: integer('people').notNull().default(0),
  groups: integer('groups').notNull().default(0),
});

/**
 * Access discovery's activity samples: one row per scan of an integration with the
 * principal '' (that the sample was taken), and one per principal seen with a session.
 */
export const discoverySamples = sqliteTable('discovery_samples', {
  integration: text('integration').notNull(),
  principal: text('principal').notNull(),
  sampledAt: integer('sampled_at').notNull(),
  sessions: integer('sessions').notNull(),
}, (table) => [primaryKey({ columns: [table.integration, table.principal, table.sampledAt] })]);

/** Standing privileges an admin removed, with what it takes to put them back until `undoUntil`. */
export const discoveryRemediations = sqliteTable('discovery_remediations', {
  id: text('id').primaryKey(),
  integration: text('integration').notNull(),
  principal: text('principal').notNull(),
  /** JSON: [{ privilege, revoke, restore }] as applied, in order. */
  changes: text('changes').notNull(),
  actor: text('actor').notNull(),
  createdAt: integer('created_at').notNull(),
  undoUntil: integer('undo_until').notNull(),
  undoneAt: integer('undone_at'),
  undoneBy: text('undone_by'),
});

/** Each scan's scores, so the next one (and the weekly digest) can say what changed. */
export const discoveryScans = sqliteTable('discovery_scans', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  scannedAt: integer('scanned_at').notNull(),
  /** JSON: [{ integration, principal, score, level, usage }]. */
  summary: text('summary').notNull(),
});

/**
 * RDS discovery's last listing of each block and region, so a restart starts from the
 * running config it stopped with: the instances listed (only the tags Latch reads), the
 * listing's own problems, and the integrations in force from that region as their config
 * sources, offered or kept only for their live grants. Rewritten whole after every pass.
 */
export const rdsDiscoveryListings = sqliteTable('rds_discovery_listings', {
  discovery: text('discovery').notNull(),
  region: text('region').notNull(),
  /** When the instances were listed; null when the region never was (the row keeps only integrations found there before). */
  listedAt: integer('listed_at'),
  /** JSON array of the instances listed, or null. */
  instances: text('instances'),
  /** JSON arrays: the listing's problems, and the offered and retained integrations' config sources. */
  problems: text('problems').notNull(),
  offered: text('offered').notNull(),
  retained: text('retained').notNull(),
}, (table) => [primaryKey({ columns: [table.discovery, table.region] })]);
