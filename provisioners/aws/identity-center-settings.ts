import { z } from 'zod';
import type { Integration, Resource } from '../../config/schema.js';
import { parseDuration } from '../../core/duration.js';
import { AwsConnection, parseSettings, Region, show } from './settings.js';

// The aws-identity-center part of the config. The connection holds only scalars (the config
// schema's rule for every integration), so lists are comma-separated: accounts, OUs, tags.
// A resource is one account of the organization, a permission is one permission set.

/** arn:aws:sso:::instance/ssoins-1234567890abcdef */
export const INSTANCE_ARN = /^arn:aws(?:-[a-z]+)*:sso:::instance\/(?:sso)?ins-[a-zA-Z0-9-.]{16}$/;
export const ACCOUNT_ID = /^\d{12}$/;
const OU_ID = /^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/;

const list = (text: string): string[] => text.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
const Bool = z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean({ error: 'must be true or false' }));

/** An account id, or an account name with * wildcards ("prod-*"). */
export interface AccountSelector {
  ids: string[];
  namePatterns: RegExp[];
}

function selector(text: string): AccountSelector {
  const parts = list(text);
  return {
    ids: parts.filter((part) => ACCOUNT_ID.test(part)),
    namePatterns: parts.filter((part) => !ACCOUNT_ID.test(part)).map((part) => new RegExp(`^${part.split('*').map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i')),
  };
}

export const IdentityCenterConnection = AwsConnection.extend({
  /** The Identity Center instance (sso-admin:ListInstances shows it). `region` is its home region. */
  instanceArn: z.string({ error: 'is required: the Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…)' })
    .regex(INSTANCE_ARN, { error: (issue) => `${show(issue.input)} is not an Identity Center instance ARN (arn:aws:sso:::instance/ssoins-1234567890abcdef)` }),
  /** The instance's identity store (d-1234567890). */
  identityStoreId: z.string({ error: 'is required: the identity store id (d-1234567890)' })
    .regex(/^(?:d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/, { error: (issue) => `${show(issue.input)} is not an identity store id (d-1234567890)` }),
  /** The AWS access portal people sign in at; the DM links it and the CLI profile names it. */
  portalUrl: z.string({ error: 'is required: the AWS access portal URL (https://d-1234567890.awsapps.com/start)' })
    .regex(/^https:\/\/[A-Za-z0-9.-]+(?:\/\S*)?$/, { error: (issue) => `${show(issue.input)} is not an https URL of the AWS access portal` }),
  /** Which accounts may be requested: ids and name patterns, comma-separated; default every account. */
  accounts: z.string().optional(),
  /** Only accounts directly in these organizational units (comma-separated ou-… ids). */
  accountOus: z.string().refine((text) => list(text).every((id) => OU_ID.test(id)), { error: 'must be organizational unit ids such as ou-ab12-cd34ef56, comma-separated' }).optional(),
  /** Only accounts carrying every one of these tags: "env=prod,team=payments". */
  accountTags: z.string().refine((text) => list(text).every((pair) => /^[^=]+=.*$/.test(pair)), { error: 'must be KEY=VALUE pairs, comma-separated (env=prod,team=payments)' }).optional(),
  /** Never these accounts (ids and name patterns, comma-separated), whatever else selects them. */
  excludeAccounts: z.string().optional(),
  /** Never accounts directly in these organizational units (comma-separated ou-… ids). */
  excludeOus: z.string().refine((text) => list(text).every((id) => OU_ID.test(id)), { error: 'must be organizational unit ids such as ou-ab12-cd34ef56, comma-separated' }).optional(),
  /**
   * The Identity Center instance's home region, when it is not `region` (then the default
   * region of the CLI profiles in the DM).
   */
  ssoRegion: Region.optional(),
  /** The management account is never offered unless this is true: its permission sets reach the whole organization. */
  includeManagementAccount: Bool.default(false),
  /** How often the account and permission set lists are read again. */
  refreshEvery: z.string().refine((text) => parseDuration(text) !== null, { error: 'must be a duration such as 15m or 1h' }).default('15m'),
  /** Lower a Latch-managed permission set's session duration when it would outlive a grant. */
  lowerSessionDuration: Bool.default(false),
});
export type IdentityCenterConnection = z.output<typeof IdentityCenterConnection>;

/** The account scope of an integration, parsed once. */
export interface AccountScope {
  include: AccountSelector | null;
  ous: string[];
  excludeOus: string[];
  tags: [string, string][];
  exclude: AccountSelector;
  includeManagementAccount: boolean;
}

export function accountScope(connection: IdentityCenterConnection): AccountScope {
  return {
    include: connection.accounts ? selector(connection.accounts) : null,
    ous: list(connection.accountOus ?? ''),
    excludeOus: list(connection.excludeOus ?? ''),
    tags: list(connection.accountTags ?? '').map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    }),
    exclude: selector(connection.excludeAccounts ?? ''),
    includeManagementAccount: connection.includeManagementAccount,
  };
}

/** A resource is one account: its id or its name (default: the resource's name). */
export const AccountResourceSettings = z.strictObject({
  account: z.preprocess((value) => (typeof value === 'number' ? String(value).padStart(12, '0') : value), z.string().min(1, 'must be an account id or name')).optional(),
});

/** A permission is one permission set, by name (default: the permission's name, in any case). */
export const PermissionSetSettings = z.strictObject({
  permissionSet: z.string().regex(/^[\w+=,.@-]{1,32}$/, 'must be a permission set name (1-32 letters, digits and + = , . @ - _)').optional(),
  /**
   * Only Latch assigns this permission set: reconcile removes assignments the store does not
   * know, and its session duration may be lowered (lowerSessionDuration).
   */
  latchManaged: Bool.default(false),
});
export type PermissionSetSettings = z.output<typeof PermissionSetSettings>;

export function parseIdentityCenterConnection(integration: Integration): IdentityCenterConnection {
  return parseSettings(IdentityCenterConnection, integration.connection, `integration "${integration.name}": connection`);
}

/** The account a resource names, as written: an id or a name. */
export function resourceAccount(integration: Integration, resource: Resource): string {
  const settings = parseSettings(AccountResourceSettings, resource.settings, `integration "${integration.name}" resource "${resource.name}": settings`);
  return settings.account ?? resource.name;
}

/** The permission set a permission names, and whether matching is exact (named) or case-insensitive (defaulted). */
export function permissionSetOf(integration: Integration, resource: Resource, permission: string, settings: unknown): PermissionSetSettings & { name: string; exact: boolean } {
  const parsed = parseSettings(PermissionSetSettings, settings, `integration "${integration.name}" resource "${resource.name}" permission "${permission}"`);
  return { ...parsed, name: parsed.permissionSet ?? permission, exact: parsed.permissionSet !== undefined };
}
