// `latch identities sync` and `identities show`: the server does every sync (it holds the
// chat platforms and backends a leaver's offboarding needs), so `sync` queues one and waits
// for its outcome; `show` reads the snapshots in the store.
import { directoryFromConfig, withIdentitySources } from '../config/directory.js';
import { identitySourceName, type LatchConfig } from '../config/schema.js';
import { IdentitySources } from '../bot/identity/sources.js';
import { onDemandSyncJob } from '../jobs/identity-sync.js';
import type { IdentitySnapshotStore, IdentitySyncStatus } from '../storage/identity-store.js';
import type { Store } from '../storage/store.js';

export interface IdentityIo {
  out(text: string): void;
  err(text: string): void;
}

export class IdentityCommandProblem extends Error {}

function snapshotsOf(store: Store): IdentitySnapshotStore {
  if (!store.identitySnapshots) throw new IdentityCommandProblem('this store does not keep identity sources');
  return store.identitySnapshots;
}

const iso = (at: number | null): string => (at ? new Date(at).toISOString() : 'never');

function outcomeLine(sync: IdentitySyncStatus | undefined, name: string, askedAt: number): { line: string; ok: boolean } | null {
  if (!sync || (sync.lastAttemptAt ?? 0) < askedAt) return null;
  if (sync.heldAt !== null && sync.heldAt >= askedAt) return { line: `HELD ${name}: ${sync.heldMessage ?? ''}\n`, ok: false };
  if ((sync.lastSuccessAt ?? 0) >= askedAt) return { line: `OK   ${name}: ${sync.people} people, ${sync.groups} groups, synced ${iso(sync.lastSuccessAt)}\n`, ok: true };
  return { line: `FAIL ${name}: ${sync.lastError ?? 'unknown error'} (last good sync ${iso(sync.lastSuccessAt)})\n`, ok: false };
}

/** Queues a sync of each source (or one) for the running server and prints each outcome as it lands. */
export async function identitiesSync(io: IdentityIo, store: Store, config: LatchConfig, options: { source?: string; allowMassDisable: boolean; waitMs: number; by: string }): Promise<number> {
  const snapshots = snapshotsOf(store);
  const readable = config.identitySources.filter((source) => source.type !== 'scim');
  const names = readable.map(identitySourceName);
  if (options.source !== undefined && !names.includes(options.source)) {
    const scim = config.identitySources.some((source) => source.type === 'scim' && identitySourceName(source) === options.source);
    throw new IdentityCommandProblem(scim ? `${options.source} is a SCIM source: the identity provider pushes to it, there is nothing to read` : `the config has no identity source "${options.source}"${names.length ? ` (it reads: ${names.join(', ')})` : ''}`);
  }
  const wanted = options.source !== undefined ? [options.source] : names;
  if (wanted.length === 0) throw new IdentityCommandProblem('the config declares no identity source Latch reads (entra, okta, google, slack)');
  const askedAt = Date.now();
  await store.commit({
    enqueue: wanted.map((name) => onDemandSyncJob(name, askedAt, options.allowMassDisable)),
    audit: [{ type: 'identity.sync_requested', requestId: null, actor: options.by, at: askedAt, data: { sources: wanted, allowMassDisable: options.allowMassDisable } }],
  });
  io.err(`asked the server to sync ${wanted.join(', ')}${options.allowMassDisable ? ', applying an answer the share limit would hold' : ''}\n`);
  const done = new Map<string, boolean>();
  const deadline = askedAt + options.waitMs;
  while (done.size < wanted.length && Date.now() < deadline) {
    const syncs = new Map((await snapshots.syncs()).map((sync) => [sync.source, sync]));
    for (const name of wanted) {
      if (done.has(name)) continue;
      const outcome = outcomeLine(syncs.get(name), name, askedAt);
      if (!outcome) continue;
      io.out(outcome.line);
      done.set(name, outcome.ok);
    }
    if (done.size < wanted.length) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const pending = wanted.filter((name) => !done.has(name));
  if (pending.length > 0) io.out(`WAIT ${pending.join(', ')}: queued, but no server has run it within ${Math.round(options.waitMs / 1000)} s; is Latch running on this store?\n`);
  return pending.length === 0 && [...done.values()].every(Boolean) ? 0 : 1;
}

/** A person's groups and manager, and which source (or the config) each came from. */
export async function identitiesShow(io: IdentityIo, store: Store, config: LatchConfig, email: string): Promise<number> {
  const snapshots = snapshotsOf(store);
  const sources = new IdentitySources({
    store: snapshots, env: {}, config: () => config, now: Date.now, log: { info() {}, warn() {}, error() {} },
    alertAdmins: async () => {}, offboard: async () => {}, openRequestPeople: async () => [],
  });
  await sources.load();
  const base = directoryFromConfig(config);
  const directory = withIdentitySources(base, config, sources.lookup);
  const address = email.toLowerCase();
  const known = sources.describe(address);
  const inConfig = config.identities.find((identity) => identity.email === address);
  if (known.length === 0 && !inConfig && !config.groups.some((group) => group.members.includes(address))) {
    io.out(`${address} is not known to the config or to any identity source\n`);
    return 1;
  }
  io.out(`${address}${directory.displayName(address) !== address ? ` (${directory.displayName(address)})` : ''}\n`);
  const departed = directory.departed(address);
  io.out(`  state: ${departed ? `GONE: ${departed}; Latch acts for them no more` : 'active'}\n`);
  const sourceManager = sources.lookup.managerOf(address);
  const managerFrom = sourceManager ? known.find((entry) => entry.manager === sourceManager && entry.active)?.source ?? 'a source' : inConfig?.manager ? 'the config (identities)' : null;
  io.out(`  manager: ${directory.managerOf(address) ?? 'none known'}${managerFrom ? ` (from ${managerFrom})` : ''}\n`);
  for (const entry of known) {
    io.out(`  ${entry.source} (${entry.type}): id ${entry.id}, ${entry.deleted ? 'deleted' : entry.active ? 'active' : 'disabled'}${entry.manager ? `, manager ${entry.manager}` : ''}${entry.groups.length ? `, in ${entry.groups.join(', ')}` : ''}\n`);
  }
  const groups = config.groups.filter((group) => directory.membersOf(group.name).has(address));
  for (const group of groups) {
    const direct = base.membersOf(group.name).has(address);
    const via = group.members.filter((member) => member.includes(':') && !member.startsWith('group:') && known.some((entry) => `${entry.source}:` === member.slice(0, entry.source.length + 1) && entry.groups.some((name) => name.toLowerCase() === member.slice(entry.source.length + 1).toLowerCase())));
    io.out(`  group ${group.name}: ${[direct ? 'the config' : null, ...via].filter(Boolean).join(', ') || 'a nested group'}\n`);
  }
  if (groups.length === 0) io.out('  groups: none\n');
  return 0;
}
