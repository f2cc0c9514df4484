import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { isLoopbackHost } from '../core/loopback.js';

// The config file is the policy. Every object is strict so a misspelt key is an error
// with a line number, not a silently ignored setting.

const Duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write it like 30m, 4h, 1h30m or 7d` });
    return z.NEVER;
  }
  return ms;
});

/** A share of something, written "50%"; kept as a fraction (0.5). */
const Share = z.string().transform((text, ctx) => {
  const match = /^(\d{1,3})(?:\.(\d+))?%$/.exec(text.trim());
  const value = match ? Number(`${match[1] ?? '0'}.${match[2] ?? '0'}`) : NaN;
  if (!match || value < 0 || value > 100) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a share; write it like 50% (0% to 100%)` });
    return z.NEVER;
  }
  return value / 100;
});

const Name = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'use lower-case letters, digits, "-", "_" or "." (at most 63 characters, starting with a letter or digit)');

const Email = z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an e-mail address').transform((email) => email.toLowerCase());

/**
 * Who someone is in a list of requesters or approvers:
 * `alice@example.com`, `group:sre`, `manager` (of the requester), `resource_owner`
 * (falls back to the integration owner), `integration_owner`, `oncall:SCHEDULE`.
 */
export const Principal = z.string().transform((text, ctx) => {
  const value = text.trim();
  if (/^[^\s@:]+@[^\s@]+\.[^\s@]+$/.test(value)) return { kind: 'user', email: value.toLowerCase() } as const;
  const group = /^group:([a-z0-9][a-z0-9_.-]*)$/.exec(value);
  if (group?.[1]) return { kind: 'group', group: group[1] } as const;
  const oncall = /^oncall:([a-z0-9][a-z0-9_.-]*)$/.exec(value);
  if (oncall?.[1]) return { kind: 'oncall', schedule: oncall[1] } as const;
  if (value === 'manager' || value === 'resource_owner' || value === 'integration_owner') return { kind: value } as const;
  ctx.addIssue({
    code: 'custom',
    message: `"${text}" is not a principal; use an e-mail address, group:NAME, manager, resource_owner, integration_owner or oncall:SCHEDULE`,
  });
  return z.NEVER;
});
export type Principal = z.output<typeof Principal>;

/** A named owner of an integration or resource: a person or a group. */
const Owner = z.string().transform((text, ctx) => {
  const value = text.trim();
  if (/^[^\s@:]+@[^\s@]+\.[^\s@]+$/.test(value)) return { kind: 'user', email: value.toLowerCase() } as const;
  const group = /^group:([a-z0-9][a-z0-9_.-]*)$/.exec(value);
  if (group?.[1]) return { kind: 'group', group: group[1] } as const;
  ctx.addIssue({ code: 'custom', message: `"${text}" is not an owner; use an e-mail address or group:NAME` });
  return z.NEVER;
});
export type Owner = z.output<typeof Owner>;

export const Identity = z.object({
  email: Email,
  name: z.string().min(1).optional(),
  manager: Email.optional(),
}).strict();
export type Identity = z.output<typeof Identity>;

/**
 * A member of a config group: a person, `group:NAME`, or a group of an identity source
 * named `SOURCE:GROUP` (`entra:Database Admins`, `okta:sre`, `slack:@db-oncall`,
 * `google:eng@corp.com`, `scim:NAME`), resolved from the source's last sync.
 */
const GroupMember = z.string().transform((text, ctx) => {
  const value = text.trim();
  if (/^group:[a-z0-9][a-z0-9_.-]*$/.test(value)) return value;
  // Before the e-mail test: `google:eng@corp.com` names a Google group, not an address.
  const source = /^([a-z0-9][a-z0-9_.-]{0,62}):(.+)$/.exec(value);
  if (source?.[1] && source[2] && source[1] !== 'group') return `${source[1]}:${source[2].trim()}`;
  if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return value.toLowerCase();
  ctx.addIssue({ code: 'custom', message: `"${text}" is not a group member; use an e-mail address, group:NAME or SOURCE:GROUP of an identity source (e.g. entra:Database Admins)` });
  return z.NEVER;
});

export const Group = z.object({
  name: Name,
  members: z.array(GroupMember).min(1, 'a group needs at least one member'),
}).strict();
export type Group = z.output<typeof Group>;

/** Where Latch's own credentials for a backend come from. Never a literal secret. */
export const CredentialSource = z.union([
  z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as PROD_PG_PASSWORD') }).strict(),
  z.object({ secret: z.string().regex(/^[a-z][a-z0-9+.-]*:\/\/.+/, 'must be a secret reference such as aws-sm://region/name or vault://path#key') }).strict(),
  z.object({ none: z.literal(true) }).strict(),
], { error: 'say where the credentials come from: { env: VARIABLE }, { secret: "vault://path#key" } or { none: true }; never write a secret in the config' });
export type CredentialSource = z.output<typeof CredentialSource>;

/** Backend-specific settings for one permission, e.g. `{ roles: [app_readonly] }`; checked by the provisioner. */
const PermissionSettings = z.record(z.string(), z.unknown());

/** How much a permission lets its holder do, lowest first. */
export const PERMISSION_LEVELS = ['read', 'write', 'admin'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

export function levelRank(level: PermissionLevel): number {
  return PERMISSION_LEVELS.indexOf(level);
}

/**
 * `level` is Latch's, not the backend's: it is taken out of a permission's settings before a
 * provisioner sees them, so every backend's own settings stay strict.
 */
function splitLevels(permissions: Record<string, Record<string, unknown>>, ctx: z.RefinementCtx): { permissions: Record<string, Record<string, unknown>>; levels: Record<string, PermissionLevel> } {
  const levels: Record<string, PermissionLevel> = {};
  const rest: Record<string, Record<string, unknown>> = {};
  for (const [name, settings] of Object.entries(permissions)) {
    const { level, ...backend } = settings;
    rest[name] = backend;
    if (level === undefined) continue;
    if (typeof level === 'string' && (PERMISSION_LEVELS as readonly string[]).includes(level)) levels[name] = level as PermissionLevel;
    else ctx.addIssue({ code: 'custom', path: ['permissions', name, 'level'], message: `level must be one of ${PERMISSION_LEVELS.join(', ')}` });
  }
  return { permissions: rest, levels };
}

export const Resource = z.object({
  name: Name,
  description: z.string().optional(),
  labels: z.array(Name).default([]),
  owner: Owner.optional(),
  settings: z.record(z.string(), z.unknown()).default({}),
  permissions: z.union([
    z.array(Name).min(1).transform((names) => Object.fromEntries(names.map((name) => [name, {} as Record<string, unknown>]))),
    z.record(Name, PermissionSettings.nullable().transform((settings) => settings ?? {})),
  ]).refine((permissions) => Object.keys(permissions).length > 0, 'a resource needs at least one permission'),
}).strict().transform((resource, ctx) => ({ ...resource, ...splitLevels(resource.permissions, ctx) }));
export type Resource = z.output<typeof Resource>;

export const INTEGRATION_TYPES = ['postgresql', 'mysql', 'azure-postgresql', 'aws-iam-role', 'aws-rds', 'aws-s3', 'aws-identity-center', 'command', 'http'] as const;

export const Integration = z.object({
  name: Name,
  type: z.enum(INTEGRATION_TYPES),
  connection: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  credentials: CredentialSource.default({ none: true }),
  owner: Owner,
  accessDetails: z.string().max(2000).optional(),
  /**
   * The highest level any permission here may have. With it set, every permission must say
   * its `level`; one above the maximum is a config error and is never granted.
   */
  maxLevel: z.enum(PERMISSION_LEVELS).optional(),
  /**
   * Keep a principal Latch generated this long after its revoke (locked, stripped of its
   * privileges, password rotated) before dropping it, for people whose objects must survive.
   */
  retainRevoked: Duration.optional(),
  /** Labels for the whole integration (`production`); access discovery weighs standing privileges here by them. */
  labels: z.array(Name).default([]),
  resources: z.array(Resource).min(1, 'an integration needs at least one resource'),
}).strict();
export type Integration = z.output<typeof Integration>;

export const BundleItem = z.object({
  integration: Name,
  resource: Name,
  permission: Name,
}).strict();
export type BundleItem = z.output<typeof BundleItem>;

export const Bundle = z.object({
  name: Name,
  description: z.string().optional(),
  items: z.array(BundleItem).min(1, 'a bundle needs at least one item'),
}).strict();
export type Bundle = z.output<typeof Bundle>;

/** Which resources of an integration a flow offers. Exactly one way of choosing. */
export const ResourceGrant = z.object({
  integration: Name,
  resources: z.union([
    z.literal('any'),
    z.object({ names: z.array(Name).min(1) }).strict(),
    z.object({ pattern: z.string().min(1) }).strict(),
    z.object({ labels: z.array(Name).min(1) }).strict(),
  ]),
  exclude: z.array(Name).default([]),
  permissions: z.array(Name).min(1, 'name at least one permission'),
}).strict();
export type ResourceGrant = z.output<typeof ResourceGrant>;

export const BundleGrant = z.object({ bundle: Name }).strict();
export type BundleGrant = z.output<typeof BundleGrant>;

export const ApprovalStep = z.object({
  name: z.string().min(1).optional(),
  approvers: z.array(Principal).min(1, 'a step needs at least one approver'),
  required: z.number().int().min(1).default(1),
}).strict();
export type ApprovalStep = z.output<typeof ApprovalStep>;

export const ChannelTarget = z.object({
  platform: z.enum(['slack', 'teams']),
  id: z.string().min(1),
}).strict().superRefine((target, ctx) => {
  // A channel name (#approvals) is the mistake people make: Slack and Teams both want the id.
  if (target.platform === 'slack' && !/^[CG][A-Z0-9]{2,}$/.test(target.id)) {
    ctx.addIssue({ code: 'custom', path: ['id'], message: `"${target.id}" is not a Slack channel id; it looks like C0123456789 (the channel's details show it), not #name` });
  }
  if (target.platform === 'teams' && !/^19:[^\s;]+@thread\.[a-z0-9]+$/.test(target.id)) {
    ctx.addIssue({ code: 'custom', path: ['id'], message: `"${target.id}" is not a Teams channel id; it looks like 19:...@thread.tacv2 (Get link to channel shows it)` });
  }
});
export type ChannelTarget = z.output<typeof ChannelTarget>;

export const Flow = z.object({
  name: Name,
  description: z.string().optional(),
  requesters: z.array(Principal).min(1, 'say who may request (a user, group:NAME, ...)'),
  access: z.array(z.union([ResourceGrant, BundleGrant])).min(1, 'say what may be requested'),
  approval: z.object({
    autoApprove: z.boolean().default(false),
    steps: z.array(ApprovalStep).default([]),
  }).strict(),
  duration: z.object({ default: Duration, max: Duration }).strict(),
  /** `on_click`: an approval waits for the requester's Activate click, and the duration starts then. */
  activation: z.enum(['immediate', 'on_click']).default('immediate'),
  /** How long an approval waits for that click before it lapses. */
  activationWindow: Duration.prefault('24h'),
  justification: z.enum(['required', 'optional']).default('required'),
  /** What a reason must look like in this flow; `required` here wins over `justification`. */
  reason: z.object({
    required: z.boolean().optional(),
    /** The label of the reason field in the Slack modal and the Teams form. */
    prompt: z.string().min(1).max(100).optional(),
    /** A regular expression the reason must match, e.g. `^(INC|CHG)-[0-9]+`. */
    pattern: z.string().min(1).max(500).optional(),
    /** What the person is told when the reason does not match. */
    patternError: z.string().min(1).max(300).optional(),
    /**
     * An https URL with `{{reference}}`: the part of the reason the pattern matched (its
     * group named `ref`, if it has one) becomes a link on every card and in the audit export.
     */
    link: z.string().min(1).max(500).optional(),
  }).strict().optional(),
  requestForOthers: z.boolean().default(false),
  /**
   * Revoke access granted through this flow when an identity sync shows the grantee is no
   * longer among its requesters (they left the group it names).
   */
  revokeWhenIneligible: z.boolean().default(false),
  timeout: Duration.prefault('24h'),
  extensions: z.object({
    allowed: z.boolean().default(true),
    autoApprove: z.boolean().default(false),
    /** Not before this share of the access time has passed, e.g. "50%". */
    after: Share.optional(),
    /** Every extension adds exactly this much. */
    step: Duration.optional(),
    /** How many extensions one access may have. */
    maxCount: z.number().int().min(1).max(100).optional(),
    /** How much time all extensions of one access may add together. */
    maxTotal: Duration.optional(),
  }).strict().default({ allowed: true, autoApprove: false }),
  notify: z.object({
    approverDMs: z.boolean().default(true),
    channels: z.array(ChannelTarget).default([]),
    /** Requests decided without a person (autoApprove, an automatic decision) post nothing to the channels. */
    quietWhenAutomatic: z.boolean().optional(),
  }).strict().default({ approverDMs: true, channels: [] }),
}).strict();
export type Flow = z.output<typeof Flow>;

/** An IANA time zone name, checked against what this Node knows. */
const TimeZone = z.string().refine((zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, { error: (issue) => `"${String(issue.input)}" is not a time zone; use an IANA name such as Europe/Berlin or UTC` });

const Clock = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'write a time of day like 09:00 or 18:30');
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** A weekly window in a named time zone, e.g. weekdays 09:00-18:00 in Europe/Berlin. */
export const TimeWindow = z.object({
  days: z.array(z.enum(WEEKDAYS, { error: 'use mon, tue, wed, thu, fri, sat or sun' })).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
  from: Clock,
  to: Clock,
  timeZone: TimeZone,
}).strict();
export type TimeWindow = z.output<typeof TimeWindow>;

/**
 * An automatic decision: when every condition holds, the request is approved or denied at
 * once, by this rule's name. Rules are read in order; a matching deny wins over any approve.
 */
export const AutoDecision = z.object({
  name: z.string().min(1).max(100),
  decision: z.enum(['approve', 'deny']),
  /** For a deny: what the requester is told. For an approve: recorded with it. */
  reason: z.string().min(1).max(300).optional(),
  when: z.object({
    flows: z.array(Name).min(1).optional(),
    requesters: z.array(Principal).min(1).optional(),
    integrations: z.array(Name).min(1).optional(),
    resources: z.array(Name).min(1).optional(),
    labels: z.array(Name).min(1).optional(),
    permissions: z.array(Name).min(1).optional(),
    /** Holds only for requests of at most this long. */
    maxDuration: Duration.optional(),
    /** Holds only when the request is made inside the window. */
    window: TimeWindow.optional(),
  }).strict().default({}),
}).strict();
export type AutoDecision = z.output<typeof AutoDecision>;

/** A wall-clock time in the settings' time zone, e.g. "2026-12-24 09:00". */
const LocalDateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]$/, 'write a date and time like 2026-12-24 09:00 (in settings.timeZone)');

/** A weekly moment the shift passes to the next person, in the settings' time zone. */
export const HandOver = z.object({
  day: z.enum(WEEKDAYS, { error: 'use mon, tue, wed, thu, fri, sat or sun' }),
  at: Clock,
}).strict();
export type HandOver = z.output<typeof HandOver>;

/**
 * A rota kept in the config: `people` take turns, one shift each, passing it on at every
 * hand-over; `people[0]` takes the first shift that starts on or after `startsOn`.
 * An override puts someone else on call for a while (holidays, swaps).
 */
export const Rota = z.object({
  people: z.array(Email).min(1, 'a rota needs at least one person'),
  handovers: z.array(HandOver).min(1, 'say when the shift passes on, e.g. { day: mon, at: "09:00" }'),
  startsOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'write a date like 2026-01-05'),
  overrides: z.array(z.object({ person: Email, from: LocalDateTime, to: LocalDateTime }).strict()).default([]),
}).strict();
export type Rota = z.output<typeof Rota>;

/** Provider ids are opaque; these shapes are what PagerDuty and Opsgenie use (PABC123, a UUID). */
const ProviderId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be the provider\'s id (letters, digits, "-" or "_"), not a name or URL');

/**
 * Who is on call, from one source: the config's own rota, a PagerDuty schedule or escalation
 * policy, or an Opsgenie schedule. Provider tokens come from the environment
 * (PAGERDUTY_TOKEN, OPSGENIE_API_KEY), never from this file.
 */
export const Schedule = z.object({
  name: Name,
  description: z.string().optional(),
  rota: Rota.optional(),
  pagerduty: z.object({
    schedule: ProviderId.optional(),
    escalationPolicy: ProviderId.optional(),
    /** For an escalation policy: which levels count as on call (1: the first responder). */
    levels: z.array(z.number().int().min(1).max(20)).min(1).default([1]),
  }).strict().refine((source) => (source.schedule === undefined) !== (source.escalationPolicy === undefined), 'name exactly one of schedule or escalationPolicy').optional(),
  opsgenie: z.object({ schedule: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be the Opsgenie schedule id or name') }).strict().optional(),
  /** How long an answer from the provider is trusted before it is asked again. */
  cacheFor: Duration.prefault('1m'),
  /** While the provider cannot be reached, the last answer is used for at most this long. */
  staleFor: Duration.prefault('30m'),
}).strict().superRefine((schedule, ctx) => {
  const sources = [schedule.rota, schedule.pagerduty, schedule.opsgenie].filter((source) => source !== undefined).length;
  if (sources !== 1) ctx.addIssue({ code: 'custom', message: 'a schedule needs exactly one source: rota, pagerduty or opsgenie' });
});
export type Schedule = z.output<typeof Schedule>;

/**
 * An emergency (break-glass) flow: the people it names (on call for a schedule, or in a
 * group) get its access at once, without an approver, with `/access emergency ...`. Every
 * grant is announced, noted on the incident, counted against a daily limit and reviewed.
 */
export const EmergencyFlow = z.object({
  name: Name,
  description: z.string().optional(),
  /** Who may use it: `oncall:SCHEDULE` for whoever is on call, `group:NAME` or people. */
  requesters: z.array(Principal).min(1, 'say who may use it (oncall:SCHEDULE, group:NAME, ...)'),
  access: z.array(z.union([ResourceGrant, BundleGrant])).min(1, 'say what it grants'),
  /** Short on purpose: an emergency grant is for the incident, not the week. */
  maxDuration: Duration.prefault('1h'),
  /** What `for DURATION` is when left out; maxDuration when unset. */
  defaultDuration: Duration.optional(),
  /** The channels it may be asked for in; anywhere (channels and the bot's chat) when left out. */
  invokeIn: z.array(ChannelTarget).optional(),
  /** Channels told of every grant, besides the one it was asked for in. */
  announceIn: z.array(ChannelTarget).default([]),
  /** The security team's channels: every grant is announced there too, loudly. */
  securityChannels: z.array(ChannelTarget).default([]),
  /** Who may end a grant early with "Revoke now" besides the admins and the grantee (e.g. oncall:SCHEDULE of the leads). */
  leads: z.array(Principal).default([]),
  /** Who reviews each grant afterwards; the admins when empty. */
  reviewers: z.array(Principal).default([]),
  /** How many emergency grants one person may get from this flow in 24 hours. */
  dailyLimit: z.number().int().min(1).max(100).default(3),
  /** Where incident ids given with `incident ID` live; the matched schedule's provider when unset. */
  incidents: z.enum(['pagerduty', 'opsgenie']).optional(),
  /** How often reviewers are reminded of a review nobody has done. */
  reviewReminder: Duration.prefault('24h'),
}).strict();
export type EmergencyFlow = z.output<typeof EmergencyFlow>;

/**
 * Where a request's messages go, by what it is for. The first rule (in file order) that
 * matches a request replaces the keys it sets in the flow's `notify`; the rest stay the flow's.
 */
export const NotifyRoute = z.object({
  name: z.string().min(1).max(100),
  /** Every condition given must hold; item conditions hold when any item of the request meets them all. */
  when: z.object({
    flows: z.array(Name).min(1).optional(),
    integrations: z.array(Name).min(1).optional(),
    resources: z.array(Name).min(1).optional(),
    labels: z.array(Name).min(1).optional(),
    levels: z.array(z.enum(PERMISSION_LEVELS, { error: `use ${PERMISSION_LEVELS.join(', ')}` })).min(1).optional(),
  }).strict().default({}),
  approverDMs: z.boolean().optional(),
  channels: z.array(ChannelTarget).optional(),
  quietWhenAutomatic: z.boolean().optional(),
}).strict();
export type NotifyRoute = z.output<typeof NotifyRoute>;

/** A secret Latch reads from the environment by name (an HMAC key, a token); the file never holds it. */
const SecretFromEnv = z.object({
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as LATCH_WEBHOOK_SECRET'),
}).strict();

/** https://, or plain http:// to this machine only (a local forwarder, a test double). */
const SinkUrl = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a URL; write it like https://siem.example.com/latch` });
    return z.NEVER;
  }
  const loopback = isLoopbackHost(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    ctx.addIssue({ code: 'custom', message: `must be an https:// URL (plain http:// only to a loopback address: 127.0.0.0/8, ::1 or localhost), not ${url.protocol}//${url.hostname}` });
    return z.NEVER;
  }
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'must not hold a user name or password; name the secret with { env: VARIABLE }' });
    return z.NEVER;
  }
  return url.toString();
});

/** What every audit sink has: its name (the key of its cursor, its metrics and its alerts) and where a new one starts. */
const sinkCommon = {
  name: Name,
  /** Where a sink Latch has no cursor for starts: after the events already in the log (`now`), or with all of them. */
  from: z.enum(['now', 'beginning']).default('now'),
  /** Admins are told once when deliveries have failed this long without a success. */
  alertAfter: Duration.prefault('5m'),
};

const SYSLOG_FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'audit', 'alert', 'clock',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'] as const;
/** RFC 5424 header fields: printable US-ASCII without spaces, of a bounded length. */
const SyslogToken = (max: number) => z.string().regex(new RegExp(`^[!-~]{1,${max}}$`), `use 1-${max} printable ASCII characters without spaces`);

/**
 * Where audit events are forwarded, each in `seq` order, at least once. Every kind names
 * its secrets by environment variable; the events themselves carry none.
 */
export const AuditSink = z.discriminatedUnion('type', [
  z.object({
    ...sinkCommon,
    type: z.literal('jsonl'),
    /** A file appended to (and synced) per batch, or `stdout`. */
    path: z.string().min(1),
  }).strict(),
  z.object({
    ...sinkCommon,
    type: z.literal('webhook'),
    url: SinkUrl,
    /** The HMAC-SHA256 key the body is signed with. */
    secret: SecretFromEnv,
    timeout: Duration.prefault('10s'),
  }).strict(),
  z.object({
    ...sinkCommon,
    type: z.literal('syslog'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** TLS with certificate checks always on; `ca` is a PEM file to trust besides the system's. */
    tls: z.union([z.literal(true), z.object({ ca: z.string().min(1).optional(), servername: z.string().min(1).optional() }).strict()]).optional(),
    facility: z.enum(SYSLOG_FACILITIES, { error: `use one of ${SYSLOG_FACILITIES.join(', ')}` }).default('auth'),
    appName: SyslogToken(48).default('latch'),
    /** The HOSTNAME field; this machine's name when left out. */
    hostname: SyslogToken(255).optional(),
    timeout: Duration.prefault('10s'),
  }).strict(),
  z.object({
    ...sinkCommon,
    type: z.literal('splunk-hec'),
    /** The collector's base URL, e.g. https://splunk.example.com:8088; events go to /services/collector/event. */
    url: SinkUrl,
    token: SecretFromEnv,
    index: z.string().min(1).optional(),
    source: z.string().min(1).default('latch'),
    sourcetype: z.string().min(1).default('latch:audit'),
    /** The `host` of each event; this machine's name when left out. */
    host: z.string().min(1).optional(),
    batchSize: z.number().int().min(1).max(1000).default(100),
    timeout: Duration.prefault('10s'),
  }).strict(),
], { error: (issue) => (issue.input === undefined ? undefined : 'type must be one of jsonl, webhook, syslog, splunk-hec') });
export type AuditSink = z.output<typeof AuditSink>;

/** An identity source's secret, named by environment variable; a secret written here is refused with how to name it. */
const SourceSecret = z.object({
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as OKTA_API_TOKEN'),
}, { error: (issue) => (issue.code === 'invalid_type' ? 'name the environment variable that holds it, like { env: OKTA_API_TOKEN }; never write the secret in the config' : undefined) }).strict();

const identitySourceCommon = {
  /** What config groups call it: `NAME:GROUP`; the source's type when left out. */
  name: Name.optional(),
  /** How often it is read (SCIM is pushed to and never read). */
  syncEvery: Duration.prefault('15m'),
  /** A sync that would disable more than this share of the people it had active is held and reported instead. */
  maxDisableShare: Share.prefault('20%'),
};

/** https://, or plain http:// to this machine only (a test double). */
const ApiUrl = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a URL` });
    return z.NEVER;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: `"${text}" must be https:// (plain http:// only to this machine)` });
    return z.NEVER;
  }
  return url.toString().replace(/\/$/, '');
});

/**
 * Where people, groups and managers come from besides this file. Secrets are named by
 * environment variable; none is ever written here.
 */
export const IdentitySource = z.discriminatedUnion('type', [
  z.object({
    ...identitySourceCommon,
    type: z.literal('entra'),
    tenantId: z.string().regex(/^[A-Za-z0-9.-]{1,100}$/, 'must be the directory (tenant) id or its domain'),
    /** The app registration's client id; with `clientSecret` a client secret, without it a managed identity (user-assigned when set). */
    clientId: z.string().regex(/^[0-9a-fA-F-]{36}$/, 'must be the application (client) id, a GUID').optional(),
    clientSecret: SourceSecret.optional(),
    /**
     * Workload identity (AKS, or any federated credential): the file holding the projected
     * token Entra trusts. Default: AZURE_FEDERATED_TOKEN_FILE when the environment sets it.
     */
    federatedTokenFile: z.string().min(1).optional(),
    graphUrl: ApiUrl.default('https://graph.microsoft.com/v1.0'),
    /** The Entra sign-in host (sovereign clouds, a test double). */
    authorityHost: ApiUrl.optional(),
  }).strict().refine((source) => !source.clientSecret || source.clientId, { message: 'clientSecret needs clientId', path: ['clientId'] }),
  z.object({
    ...identitySourceCommon,
    type: z.literal('okta'),
    /** The org URL, e.g. https://corp.okta.com. */
    url: ApiUrl,
    /** An API token (sent as SSWS), read-only admin. */
    token: SourceSecret.optional(),
    /** Or an OAuth 2.0 service app: client credentials signed with its private key (private_key_jwt). */
    oauth: z.object({
      clientId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be the service app\'s client id'),
      /** The app's private key, PEM (PKCS#8 or PKCS#1) or a JWK in JSON. */
      privateKey: SourceSecret,
      /** The key's id (`kid`) when the app has several public keys. */
      keyId: z.string().min(1).max(200).optional(),
      scopes: z.array(z.string().regex(/^okta\.[a-zA-Z.]+$/, 'must be an Okta API scope such as okta.users.read')).min(1).default(['okta.users.read', 'okta.groups.read']),
    }).strict().optional(),
    /** The profile attribute that holds the manager (an Okta user id, login or e-mail). */
    managerAttribute: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be a profile attribute name such as managerId').default('managerId'),
  }).strict().refine((source) => (source.token === undefined) !== (source.oauth === undefined), { message: 'give either token (an API token) or oauth (a service app), not both', path: ['token'] }),
  z.object({
    ...identitySourceCommon,
    type: z.literal('google'),
    /** The service account's JSON key (client_email, private_key). */
    serviceAccountKey: SourceSecret,
    /** The Workspace admin the service account acts as (domain-wide delegation). */
    subject: Email,
    customer: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'must be a customer id or my_customer').default('my_customer'),
    apiUrl: ApiUrl.default('https://admin.googleapis.com'),
    tokenUrl: ApiUrl.default('https://oauth2.googleapis.com/token'),
  }).strict(),
  z.object({
    ...identitySourceCommon,
    type: z.literal('slack'),
  }).strict(),
  z.object({
    ...identitySourceCommon,
    type: z.literal('scim'),
    /** The bearer token the identity provider sends to /scim/v2. */
    token: SourceSecret,
  }).strict(),
], { error: (issue) => (issue.input === undefined ? undefined : 'type must be one of entra, okta, google, slack, scim') });
export type IdentitySource = z.output<typeof IdentitySource>;

/** The name a source goes by in `SOURCE:GROUP`. */
export const identitySourceName = (source: IdentitySource): string => source.name ?? source.type;

export const Settings = z.object({
  /** Who may see the audit trail, revoke anyone's access and receives alerts. */
  admins: z.array(Owner).default([]),
  /** The time zone of times people type without one (`request ... at 22:00`), an IANA name. */
  timeZone: TimeZone.default('UTC'),
  instance: z.string().regex(/^[a-z][a-z0-9]{0,11}$/, 'use 1-12 lower-case letters or digits, starting with a letter').default('latch'),
  reminderInterval: Duration.prefault('4h'),
  escalateAfter: Duration.prefault('24h'),
  expiryWarning: Duration.prefault('15m'),
  auditRetention: Duration.prefault('400d'),
  grantAttempts: z.number().int().min(1).max(50).default(5),
  revokeAttemptsBeforeAlert: z.number().int().min(1).max(50).default(5),
  /** Ordered rules that send a request's cards and updates elsewhere than its flow's `notify` says; none when left out. */
  routing: z.array(NotifyRoute).optional(),
}).strict();
export type Settings = z.output<typeof Settings>;

/** Access discovery: scanning integrations for standing privileges, scoring and remediating them. */
export const Discovery = z.object({
  /** A principal with no session seen for this long is dormant. */
  dormantAfter: Duration.prefault('30d'),
  /** How long a remediation can be undone (`latch discover undo ID`). */
  undoWithin: Duration.prefault('7d'),
  /** How much a label on an integration or resource raises the risk of privileges there (1 = no change). */
  sensitivity: z.record(Name, z.number().min(1).max(10)).default({ production: 3, prod: 3, pii: 3, staging: 1.5 }),
  /** Approvers of the access flows remediation proposes; the admins when left out. */
  approvers: z.array(Principal).optional(),
  /** Scan this often and write the admins what changed since the scan before (a weekly digest: 7d); off when left out. */
  digestEvery: Duration.optional(),
  /** Sample who is connected to each database integration this often between scans (10m); off when left out. */
  sampleEvery: Duration.optional(),
  /** Integrations to scan; every postgresql, mysql and aws-iam-role integration when left out. */
  integrations: z.array(Name).optional(),
}).strict();
export type Discovery = z.output<typeof Discovery>;

/** Checks a value with `schema` and keeps it as written: a template is parsed again for every instance it becomes. */
const checkedAs = <I extends z.ZodType>(input: I, schema: z.ZodType): I => input.superRefine((value, ctx) => {
  const parsed = schema.safeParse(value);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message });
});

/**
 * RDS auto-discovery: the instances in `regions` tagged for `connectorId` become aws-rds
 * integrations named `namePrefix` + the instance identifier, refreshed every `interval`.
 * Flows, automatic decisions and routing rules name the block (its `name`) to mean every
 * instance it currently finds.
 */
export const RdsDiscovery = z.object({
  name: Name,
  /** This Latch's connector id: instances whose latch-connector-id tag says it are ours. */
  connectorId: z.string().min(1).max(128),
  regions: z.array(z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as eu-west-1')).min(1, 'name at least one region'),
  interval: Duration.prefault('15m').refine((ms) => ms >= 60_000, 'must be at least 1m: every pass lists every instance of every region'),
  /** Default: the block's name and "-". */
  namePrefix: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,30}$/, 'must be lower-case letters, digits, "_", "." or "-"').optional(),
  owner: checkedAs(z.string(), Owner),
  labels: z.array(Name).default([]),
  accessDetails: z.string().max(2000).optional(),
  /** An aws-rds integration's connection (region, via, roleArn, user, ...) without the instance's own keys, which the tags give. */
  connection: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).superRefine((connection, ctx) => {
    for (const key of ['instanceId', 'authType', 'secretArn']) {
      if (key in connection) ctx.addIssue({ code: 'custom', path: [key], message: `${key} comes from each instance (its identifier and tags), not from the template` });
    }
  }),
  resources: z.array(checkedAs(z.unknown(), Resource)).min(1, 'say what each discovered instance offers: resources as for aws-rds'),
  tagKeys: z.object({
    connectorId: z.array(z.string().min(1)).min(1).optional(),
    authType: z.array(z.string().min(1)).min(1).optional(),
    secret: z.array(z.string().min(1)).min(1).optional(),
    secretRegion: z.array(z.string().min(1)).min(1).optional(),
  }).strict().optional(),
}).strict();
export type RdsDiscovery = z.output<typeof RdsDiscovery>;

export const LatchConfig = z.object({
  version: z.literal(1),
  settings: Settings.prefault({}),
  /** Where every audit event is forwarded (SIEM, log pipeline); none when left out. */
  auditSinks: z.array(AuditSink).default([]),
  identities: z.array(Identity).default([]),
  /** Identity providers people, groups and managers are synced from. */
  identitySources: z.array(IdentitySource).default([]),
  groups: z.array(Group).default([]),
  integrations: z.array(Integration).default([]),
  bundles: z.array(Bundle).default([]),
  flows: z.array(Flow).default([]),
  autoDecisions: z.array(AutoDecision).default([]),
  /** On-call schedules, for `oncall:NAME` requesters and approvers and for emergency flows. */
  schedules: z.array(Schedule).default([]),
  /** Emergency (break-glass) flows, for `/access emergency ...`. */
  emergency: z.array(EmergencyFlow).default([]),
  discovery: Discovery.prefault({}),
  /** RDS instances found by their tags, merged into integrations while Latch runs (docs/provisioners/aws.md). */
  rdsDiscovery: z.array(RdsDiscovery).default([]),
}).strict();
export type LatchConfig = z.output<typeof LatchConfig>;
