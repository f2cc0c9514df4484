// People, groups and managers as an identity source (Entra ID, Okta, Google Workspace,
// Slack user groups, SCIM) reports them. Pure: the clients read, the store keeps, this
// file decides what a new answer means.

export const IDENTITY_SOURCE_TYPES = ['entra', 'okta', 'google', 'slack', 'scim'] as const;
export type IdentitySourceType = (typeof IDENTITY_SOURCE_TYPES)[number];

/** One person as a source knows them, keyed by the source's immutable id. */
export interface SourcePerson {
  /** The source's own id (Entra object id, Okta user id, Google user id, Slack user id, SCIM id). */
  id: string;
  /** Lower-cased; how Latch knows the person everywhere else. */
  email: string;
  /** The sign-in name when it differs from the e-mail (an Entra UPN, a SCIM userName). */
  login?: string | null;
  name: string | null;
  /** False when the source reports the account disabled, suspended or deprovisioned. */
  active: boolean;
  /** The manager's e-mail, when the source names one Latch could resolve. */
  manager: string | null;
  /** The source no longer lists the person (kept, inactive, so they stay a leaver). */
  deleted?: boolean;
}

export interface SourceGroup {
  id: string;
  /** What a config group names it by after `SOURCE:` (display name, Slack handle, group e-mail). */
  name: string;
  /** Source ids of the people in it, nested groups already flattened. */
  members: string[];
}

/** Everything one read of a source returned. A read that failed in any part is never a snapshot. */
export interface SourceSnapshot {
  people: SourcePerson[];
  groups: SourceGroup[];
  /**
   * Whether the source speaks for people at all. Slack user groups only name members: a
   * person missing from Slack is not a leaver.
   */
  authoritative: boolean;
}

/** `entra:Database Admins` inside a config group's members. */
export interface SourceGroupRef {
  source: string;
  group: string;
}

/** A member of a config group that names a group in an identity source, or null for an e-mail or group:NAME. */
export function sourceGroupRef(member: string): SourceGroupRef | null {
  const match = /^([a-z0-9][a-z0-9_.-]{0,62}):(.+)$/.exec(member.trim());
  if (!match?.[1] || !match[2] || match[1] === 'group') return null;
  return { source: match[1], group: match[2].trim() };
}

/** Why a person stopped being someone Latch acts for. */
export type LeaverReason = 'disabled' | 'deleted';

export interface Leaver {
  email: string;
  source: string;
  /** The source's id of the person. */
  id: string;
  reason: LeaverReason;
}

export interface SyncPlan {
  /** People active before whom this answer reports disabled or no longer lists. */
  leavers: Leaver[];
  /** People known before (active), for the share. */
  activeBefore: number;
  /** Set when the answer would disable too many at once: it is held, not applied. */
  held: { share: number; limit: number; message: string } | null;
}

/**
 * What applying `next` over `previous` would do. A source that drops or disables more
 * than `maxDisableShare` of the people it had active is far more likely to be broken (a
 * wrong filter, a revoked scope, an empty page) than to have lost that many people at once.
 */
export function planSync(source: string, previous: readonly SourcePerson[], next: SourceSnapshot, maxDisableShare: number): SyncPlan {
  const activeBefore = previous.filter((person) => person.active);
  if (!next.authoritative) return { leavers: [], activeBefore: activeBefore.length, held: null };
  const nextById = new Map(next.people.map((person) => [person.id, person]));
  const leavers: Leaver[] = [];
  for (const person of activeBefore) {
    const now = nextById.get(person.id);
    if (!now) leavers.push({ email: person.email, source, id: person.id, reason: 'deleted' });
    else if (!now.active) leavers.push({ email: now.email, source, id: person.id, reason: 'disabled' });
  }
  const share = activeBefore.length === 0 ? 0 : leavers.length / activeBefore.length;
  const held = share > maxDisableShare
    ? {
      share, limit: maxDisableShare,
      message: `identity source ${source} reports ${leavers.length} of ${activeBefore.length} active people disabled or gone (${percent(share)}, more than maxDisableShare ${percent(maxDisableShare)}); the answer is held and nothing was applied`,
    }
    : null;
  return { leavers, activeBefore: activeBefore.length, held };
}

/**
 * The people to keep after applying `next`: its answer, plus everyone known before whom it
 * no longer lists, kept inactive and marked deleted, so a leaver stays one on later syncs.
 */
export function mergePeople(previous: readonly SourcePerson[], next: SourceSnapshot): SourcePerson[] {
  if (!next.authoritative) return next.people;
  const listed = new Set(next.people.map((person) => person.id));
  return [...next.people, ...previous.filter((person) => !listed.has(person.id)).map((person) => ({ ...person, active: false, deleted: true }))];
}

const percent = (share: number): string => `${Math.round(share * 1000) / 10}%`;

/** One source's people and groups, indexed for the directory's synchronous questions. */
export class SourceIndex {
  private readonly byEmail = new Map<string, SourcePerson>();
  private readonly byId = new Map<string, SourcePerson>();
  private readonly groupsByName = new Map<string, SourceGroup>();

  constructor(readonly source: string, readonly people: readonly SourcePerson[], readonly groups: readonly SourceGroup[]) {
    for (const person of people) {
      this.byId.set(person.id, person);
      // An active account wins over a disabled one with the same address (a re-hire).
      const known = this.byEmail.get(person.email);
      if (!known || (!known.active && person.active)) this.byEmail.set(person.email, person);
    }
    for (const group of groups) {
      this.groupsByName.set(group.name.toLowerCase(), group);
      this.groupsByName.set(group.id.toLowerCase(), group);
    }
  }

  person(email: string): SourcePerson | undefined {
    return this.byEmail.get(email.toLowerCase());
  }

  group(name: string): SourceGroup | undefined {
    return this.groupsByName.get(name.toLowerCase());
  }

  /** The active people in a group, by e-mail. */
  members(name: string): string[] {
    const group = this.group(name);
    if (!group) return [];
    return group.members.flatMap((id) => {
      const person = this.byId.get(id);
      return person?.active ? [person.email] : [];
    });
  }

  /** The groups a person is in, by name. */
  groupsOf(email: string): string[] {
    const person = this.person(email);
    if (!person) return [];
    return this.groups.filter((group) => group.members.includes(person.id)).map((group) => group.name);
  }
}
