import type { Directory } from '../core/directory.js';
import { sourceGroupRef, type SourceGroupRef } from '../core/identity.js';
import type { LatchConfig, Owner } from './schema.js';

const EMPTY: ReadonlySet<string> = new Set();

/** The directory the config file describes. Groups are expanded once, when the config loads. */
export function directoryFromConfig(config: LatchConfig): Directory {
  const direct = new Map(config.groups.map((group) => [group.name, group.members]));
  const expanded = new Map<string, ReadonlySet<string>>();
  const expand = (name: string, trail: Set<string>): ReadonlySet<string> => {
    const known = expanded.get(name);
    if (known) return known;
    const members = new Set<string>();
    if (trail.has(name)) return members; // cycles are config errors; never loop on one
    trail.add(name);
    for (const member of direct.get(name) ?? []) {
      if (member.startsWith('group:')) expand(member.slice(6), trail).forEach((email) => members.add(email));
      // Groups of identity sources are resolved at each lookup (withIdentitySources), from the last sync.
      else if (!sourceGroupRef(member)) members.add(member);
    }
    trail.delete(name);
    expanded.set(name, members);
    return members;
  };
  for (const name of direct.keys()) expand(name, new Set());

  const managers = new Map(config.identities.filter((identity) => identity.manager).map((identity) => [identity.email, identity.manager as string]));
  const names = new Map(config.identities.filter((identity) => identity.name).map((identity) => [identity.email, identity.name as string]));
  const admins = new Set(config.settings.admins.flatMap((owner: Owner) => (owner.kind === 'user' ? [owner.email] : [...(expanded.get(owner.group) ?? EMPTY)])));

  return {
    membersOf: (group) => expanded.get(group) ?? EMPTY,
    managerOf: (email) => managers.get(email.toLowerCase()) ?? null,
    isAdmin: (email) => admins.has(email.toLowerCase()),
    onCall: () => EMPTY,
    displayName: (email) => names.get(email.toLowerCase()) ?? email,
    admins: () => admins,
    departed: () => null,
  };
}

/** The config's directory, with on-call schedules answered by `onCall` (a rota, PagerDuty, Opsgenie). */
export function withOnCall(directory: Directory, onCall: { known(schedule: string): ReadonlySet<string> }): Directory {
  return { ...directory, onCall: (schedule) => onCall.known(schedule) };
}

/** What the identity sources know now, from their last sync (bot/identity/sources.ts). */
export interface IdentityLookup {
  /** The active people in a source's group, by e-mail; empty for an unknown source or group. */
  members(ref: SourceGroupRef): readonly string[];
  /** The manager a source names for the person, or null. */
  managerOf(email: string): string | null;
  displayName(email: string): string | null;
  /** Why the person is no longer someone Latch acts for (a source reports them disabled or gone), or null. */
  departed(email: string): string | null;
}

/** Every identity-source group a config group reaches, through its nested groups. */
function sourceRefsByGroup(config: LatchConfig): Map<string, SourceGroupRef[]> {
  const direct = new Map(config.groups.map((group) => [group.name, group.members]));
  const result = new Map<string, SourceGroupRef[]>();
  const collect = (name: string, trail: Set<string>, into: SourceGroupRef[]): void => {
    if (trail.has(name)) return;
    trail.add(name);
    for (const member of direct.get(name) ?? []) {
      if (member.startsWith('group:')) collect(member.slice(6), trail, into);
      else {
        const ref = sourceGroupRef(member);
        if (ref) into.push(ref);
      }
    }
  };
  for (const name of direct.keys()) {
    const refs: SourceGroupRef[] = [];
    collect(name, new Set(), refs);
    if (refs.length > 0) result.set(name, refs);
  }
  return result;
}

/**
 * The config's directory with the identity sources behind it: config groups gain the
 * members of the source groups they name, the manager comes from the source (the config's
 * `identities` when no source names one), and people a source reports disabled or gone
 * drop out of every group, admin list and approver set. Composes with withOnCall.
 */
export function withIdentitySources(directory: Directory, config: LatchConfig, sources: IdentityLookup): Directory {
  const refs = sourceRefsByGroup(config);
  const membersOf = (group: string): ReadonlySet<string> => {
    const own = directory.membersOf(group);
    const external = refs.get(group);
    if (!external) return own.size === 0 ? own : withoutDeparted(own);
    const members = new Set(own);
    for (const ref of external) sources.members(ref).forEach((email) => members.add(email));
    return withoutDeparted(members);
  };
  const withoutDeparted = (people: ReadonlySet<string>): ReadonlySet<string> => new Set([...people].filter((email) => sources.departed(email) === null));
  const admins = (): ReadonlySet<string> => new Set(config.settings.admins.flatMap((owner: Owner) => (owner.kind === 'user' ? [owner.email] : [...membersOf(owner.group)]))
    .filter((email) => sources.departed(email) === null));
  return {
    ...directory,
    membersOf,
    managerOf: (email) => sources.managerOf(email) ?? directory.managerOf(email),
    isAdmin: (email) => admins().has(email.toLowerCase()),
    admins,
    displayName: (email) => sources.displayName(email) ?? directory.displayName(email),
    departed: (email) => sources.departed(email) ?? directory.departed(email),
  };
}
