import type { Directory } from '../core/directory.js';
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
      else members.add(member);
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
  };
}

/** The config's directory, with on-call schedules answered by `onCall` (a rota, PagerDuty, Opsgenie). */
export function withOnCall(directory: Directory, onCall: { known(schedule: string): ReadonlySet<string> }): Directory {
  return { ...directory, onCall: (schedule) => onCall.known(schedule) };
}
