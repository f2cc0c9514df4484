import { ListAccountsCommand, ListAccountsForParentCommand, ListTagsForResourceCommand, type Account } from '@aws-sdk/client-organizations';
import type { AwsClients } from './clients.js';
import { describeAwsError } from './errors.js';
import type { AccountScope, AccountSelector } from './identity-center-settings.js';

// The organization's accounts as Identity Center assigns into them, read from Organizations
// and kept for an interval: every request and grant looks an account up, and AWS rate-limits
// Organizations to a few calls a second for the whole organization.

export interface OrgAccount {
  id: string;
  name: string;
  email: string;
  status: string;
  /** The management account's id, from the account ARN (arn:aws:organizations::MANAGEMENT:account/o-…/ID). */
  managementAccountId: string;
  /** Organizational units the account is directly in, among those the scope names (to include or exclude). */
  ous: string[];
  /** Only read when the scope selects by tag. */
  tags: Record<string, string>;
}

function matches(selector: AccountSelector, account: OrgAccount): boolean {
  return selector.ids.includes(account.id) || selector.namePatterns.some((pattern) => pattern.test(account.name));
}

/** Why an account is outside the integration's scope, or null when it is inside. Pure. */
export function outsideScope(scope: AccountScope, account: OrgAccount): string | null {
  const label = `${account.name} (${account.id})`;
  if (account.status !== 'ACTIVE') return `account ${label} is ${account.status.toLowerCase()}, not active`;
  if (!scope.includeManagementAccount && account.id === account.managementAccountId) return `account ${label} is the organization's management account, which this integration never offers (includeManagementAccount)`;
  if (matches(scope.exclude, account)) return `account ${label} is excluded by excludeAccounts`;
  const excludedOu = scope.excludeOus.find((ou) => account.ous.includes(ou));
  if (excludedOu) return `account ${label} is in ${excludedOu}, which excludeOus excludes`;
  if (scope.include && !matches(scope.include, account)) return `account ${label} is not among the integration's accounts`;
  if (scope.ous.length > 0 && !scope.ous.some((ou) => account.ous.includes(ou))) return `account ${label} is not in the organizational units ${scope.ous.join(', ')}`;
  const missing = scope.tags.filter(([key, value]) => account.tags[key] !== value);
  if (missing.length > 0) return `account ${label} lacks the tag${missing.length > 1 ? 's' : ''} ${missing.map(([key, value]) => `${key}=${value}`).join(', ')}`;
  return null;
}

function toAccount(raw: Account): OrgAccount | null {
  if (!raw.Id) return null;
  return {
    id: raw.Id, name: raw.Name ?? raw.Id, email: raw.Email ?? '', status: raw.Status ?? 'ACTIVE',
    managementAccountId: raw.Arn?.split(':')[4] ?? '', ous: [], tags: {},
  };
}

async function pages<T>(read: (token: string | undefined) => Promise<{ items: T[]; next: string | undefined }>): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  do {
    const page = await read(token);
    all.push(...page.items);
    token = page.next;
  } while (token);
  return all;
}

/** Every account of the organization, with the OUs and tags the scope needs. */
export async function readAccounts(clients: AwsClients, integration: string, scope: AccountScope): Promise<OrgAccount[]> {
  const organizations = clients.organizations();
  const where = (step: string): string => `integration "${integration}": ${step}`;
  let raw: Account[];
  try {
    raw = await pages(async (NextToken) => {
      const answer = await organizations.send(new ListAccountsCommand({ ...(NextToken ? { NextToken } : {}) }));
      return { items: answer.Accounts ?? [], next: answer.NextToken };
    });
  } catch (error) {
    throw describeAwsError(error, where('listing the organization\'s accounts (organizations:ListAccounts)'), null);
  }
  const accounts = raw.map(toAccount).filter((account): account is OrgAccount => account !== null);
  const byId = new Map(accounts.map((account) => [account.id, account]));
  for (const ou of new Set([...scope.ous, ...scope.excludeOus])) {
    try {
      const inOu = await pages(async (NextToken) => {
        const answer = await organizations.send(new ListAccountsForParentCommand({ ParentId: ou, ...(NextToken ? { NextToken } : {}) }));
        return { items: answer.Accounts ?? [], next: answer.NextToken };
      });
      for (const entry of inOu) if (entry.Id) byId.get(entry.Id)?.ous.push(ou);
    } catch (error) {
      throw describeAwsError(error, where(`listing the accounts of ${ou} (organizations:ListAccountsForParent)`), null);
    }
  }
  if (scope.tags.length > 0) {
    for (const account of accounts) {
      try {
        const tags = await pages(async (NextToken) => {
          const answer = await organizations.send(new ListTagsForResourceCommand({ ResourceId: account.id, ...(NextToken ? { NextToken } : {}) }));
          return { items: answer.Tags ?? [], next: answer.NextToken };
        });
        account.tags = Object.fromEntries(tags.map((tag) => [tag.Key ?? '', tag.Value ?? '']));
      } catch (error) {
        throw describeAwsError(error, where(`reading the tags of account ${account.id} (organizations:ListTagsForResource)`), null);
      }
    }
  }
  return accounts;
}

/**
 * A value read from AWS and kept for `ttlMs`. After that the last value still answers at
 * once while it is read again in the background (a request is not kept waiting for a whole
 * organization's listing); a failed read keeps the last value and is tried on the next call.
 */
export class Refreshing<T> {
  private last: { at: number; value: T } | null = null;
  private pending: Promise<T> | null = null;

  constructor(private readonly read: () => Promise<T>, private readonly ttlMs: number, private readonly now: () => number) {}

  get(): Promise<T> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return Promise.resolve(this.last.value);
    const reading = this.fresh();
    if (!this.last) return reading;
    reading.catch(() => undefined);
    return Promise.resolve(this.last.value);
  }

  /** Read again now and wait for it (an account or permission set the last value does not know). */
  fresh(): Promise<T> {
    this.pending ??= this.read().then((value) => {
      this.last = { at: this.now(), value };
      return value;
    }).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }
}

/** The account a resource names (an id, or a name in any case), or null. */
export function findAccount(accounts: readonly OrgAccount[], wanted: string): OrgAccount | null {
  return accounts.find((account) => account.id === wanted) ?? accounts.find((account) => account.name.toLowerCase() === wanted.toLowerCase()) ?? null;
}
