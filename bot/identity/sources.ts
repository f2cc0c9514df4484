// The identity sources as Latch sees them: each source's last good snapshot in memory (for
// the directory's synchronous questions) and in the store (for restarts), syncs that never
// apply a failed or implausible answer, and the leavers a sync or a SCIM push reveals.
import type { IdentityLookup } from '../../config/directory.js';
import { identitySourceName, type IdentitySource, type LatchConfig } from '../../config/schema.js';
import { mergePeople, planSync, SourceIndex, sourceGroupRef, type Leaver, type SourceGroupRef, type SourceSnapshot } from '../../core/identity.js';
import type { Logger } from '../../handlers/context.js';
import type { IdentitySnapshotStore, IdentitySyncStatus } from '../../storage/identity-store.js';
import type { AuditInput } from '../../storage/store.js';
import { entraCredential, entraReader } from './entra.js';
import { oktaReader } from './okta.js';
import { googleReader } from './google.js';
import { slackGroupsReader } from './slack-groups.js';
import type { SourceReader } from './reader.js';
import { SourceError, type CallOptions } from './http.js';

export type SyncOutcome =
  | { source: string; status: 'applied'; people: number; groups: number; leavers: Leaver[] }
  | { source: string; status: 'held'; message: string }
  | { source: string; status: 'failed'; error: string }
  | { source: string; status: 'pushed'; message: string };

export interface SourceHealth {
  source: string;
  type: IdentitySource['type'];
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  error: string | null;
  held: string | null;
  people: number;
  groups: number;
}

/** Where a person's groups and manager come from, for `identities show`. */
export interface PersonSources {
  source: string;
  type: IdentitySource['type'];
  id: string;
  active: boolean;
  deleted: boolean;
  manager: string | null;
  groups: string[];
}

export interface IdentitySourcesDeps {
  store: IdentitySnapshotStore;
  env: NodeJS.ProcessEnv;
  config(): LatchConfig;
  now(): number;
  log: Logger;
  alertAdmins(text: string): Promise<void>;
  /** Ends a leaver's access and requests (handlers/offboard.ts); `reroute` when the source first reports them gone. */
  offboard(email: string, reason: string, options: { reroute: boolean }): Promise<void>;
  /** Revokes access through flows whose grantee may no longer request them (handlers/movers.ts), after a change is applied. */
  reviewMovers?(): Promise<void>;
  /** People with open requests (pending, ready, active), to finish an offboarding a crash cut short. */
  openRequestPeople(): Promise<string[]>;
  /** Readers to use instead of the real clients (for embedders that bring their own). */
  readers?: Record<string, SourceReader>;
  /** Passed to the HTTP clients (tests shorten Retry-After waits). */
  http?: Pick<CallOptions, 'sleep'>;
}

/** Which groups of a source the config names, so a sync reads only those. */
export function referencedGroups(config: LatchConfig, source: string): string[] {
  const names = new Set<string>();
  for (const group of config.groups) {
    for (const member of group.members) {
      const ref = sourceGroupRef(member);
      if (ref?.source === source) names.add(ref.group);
    }
  }
  return [...names];
}

export class IdentitySources {
  private indexes = new Map<string, SourceIndex>();
  private readonly running = new Map<string, Promise<SyncOutcome>>();
  /** The last held answer each source was reported for, so a broken source alerts once, not every interval. */
  private readonly reportedHolds = new Map<string, string>();
  /** What the store's sync records looked like at the last load, to notice another instance's sync or SCIM push. */
  private loadedMarker = '';

  constructor(private readonly deps: IdentitySourcesDeps) {}

  private sources(): IdentitySource[] {
    return this.deps.config().identitySources;
  }

  private sourceNamed(name: string): IdentitySource | undefined {
    return this.sources().find((source) => identitySourceName(source) === name);
  }

  /** Reads every source's snapshot from the store (at start-up, and after a SCIM push). */
  async load(): Promise<void> {
    this.loadedMarker = await this.marker();
    const snapshots = await this.deps.store.snapshots();
    this.indexes = new Map(snapshots.map((snapshot) => [snapshot.source, new SourceIndex(snapshot.source, snapshot.people, snapshot.groups)]));
  }

  private async marker(): Promise<string> {
    return JSON.stringify((await this.deps.store.syncs()).map((sync) => [sync.source, sync.lastAttemptAt, sync.lastSuccessAt, sync.people, sync.groups]));
  }

  /**
   * Loads the snapshots again when the store shows a sync or push this process did not make
   * (another instance on the same database); true when it did.
   */
  async refreshIfChanged(): Promise<boolean> {
    if ((await this.marker()) === this.loadedMarker) return false;
    await this.load();
    return true;
  }

  /** What the directory asks (config/directory.ts withIdentitySources). */
  readonly lookup: IdentityLookup = {
    members: (ref: SourceGroupRef) => (this.sourceNamed(ref.source) ? this.indexes.get(ref.source)?.members(ref.group) ?? [] : []),
    managerOf: (email) => {
      for (const source of this.sources()) {
        const person = this.indexes.get(identitySourceName(source))?.person(email);
        if (person?.active && person.manager) return person.manager;
      }
      return null;
    },
    displayName: (email) => {
      for (const source of this.sources()) {
        const person = this.indexes.get(identitySourceName(source))?.person(email);
        if (person?.name) return person.name;
      }
      return null;
    },
    departed: (email) => {
      for (const source of this.sources()) {
        if (source.type === 'slack') continue; // Slack user groups name members; they do not speak for accounts
        const name = identitySourceName(source);
        const person = this.indexes.get(name)?.person(email);
        if (person && !person.active) return `${name} reports ${person.email} ${person.deleted ? 'deleted' : 'disabled'}`;
      }
      return null;
    },
  };

  private reader(source: IdentitySource): SourceReader {
    const name = identitySourceName(source);
    const given = this.deps.readers?.[name];
    if (given) return given;
    const { env } = this.deps;
    const http = this.deps.http ?? {};
    switch (source.type) {
      case 'entra': return entraReader(source, entraCredential(source, env), http);
      case 'okta': return oktaReader(source, env, { ...http, now: this.deps.now });
      case 'google': return googleReader(source, env, { ...http, now: this.deps.now });
      case 'slack': return slackGroupsReader(name, env, http);
      case 'scim': throw new SourceError(`identity source ${name} is pushed to over SCIM; it is never read`);
    }
  }

  /** Syncs one source, or every source Latch reads. `allowMassDisable` applies an answer the share limit would hold (an admin's decision). */
  async sync(only?: string, options: { allowMassDisable?: boolean } = {}): Promise<SyncOutcome[]> {
    const sources = this.sources().filter((source) => only === undefined || identitySourceName(source) === only);
    if (only !== undefined && sources.length === 0) {
      const known = this.sources().map(identitySourceName);
      return [{ source: only, status: 'failed', error: `no identity source called "${only}" in the config${known.length ? ` (declared: ${known.join(', ')})` : ''}` }];
    }
    const outcomes: SyncOutcome[] = [];
    for (const source of sources) {
      const name = identitySourceName(source);
      if (source.type === 'scim') {
        outcomes.push({ source: name, status: 'pushed', message: 'SCIM pushes apply when they arrive; nothing to read' });
        continue;
      }
      // One sync of a source at a time: the interval job and the CLI share a running one.
      let running = this.running.get(name);
      if (!running) {
        running = this.syncSource(source, options).finally(() => this.running.delete(name));
        this.running.set(name, running);
      }
      outcomes.push(await running);
    }
    await this.finishOffboarding();
    if (outcomes.some((outcome) => outcome.status === 'applied')) await this.reviewMovers();
    return outcomes;
  }

  private async syncSource(source: IdentitySource, options: { allowMassDisable?: boolean }): Promise<SyncOutcome> {
    const name = identitySourceName(source);
    const at = this.deps.now();
    let snapshot: SourceSnapshot;
    try {
      snapshot = await this.reader(source).read(referencedGroups(this.deps.config(), name));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.deps.store.recordAttempt(name, { at, error: message }, [{ type: 'identity.sync_failed', requestId: null, actor: 'latch', at, data: { source: name, error: message } }]);
      this.deps.log.warn({ source: name, err: message }, `identity source ${name}: sync failed; its last good snapshot stays in force`);
      return { source: name, status: 'failed', error: message };
    }
    const previous = this.indexes.get(name)?.people ?? [];
    const plan = planSync(name, previous, snapshot, source.maxDisableShare);
    if (plan.held && !options.allowMassDisable) {
      const { message } = plan.held;
      await this.deps.store.recordAttempt(name, { at, held: message }, [{
        type: 'identity.sync_held', requestId: null, actor: 'latch', at,
        data: { source: name, wouldDisable: plan.leavers.length, activeBefore: plan.activeBefore, share: plan.held.share, limit: plan.held.limit },
      }]);
      this.deps.log.warn({ source: name, wouldDisable: plan.leavers.length, activeBefore: plan.activeBefore }, message);
      if (this.reportedHolds.get(name) !== message) {
        this.reportedHolds.set(name, message);
        await this.deps.alertAdmins(`Latch held a sync: ${message}. If the source is right, apply it with: npm run latch -- identities sync ${name} --allow-mass-disable`).catch(() => undefined);
      }
      return { source: name, status: 'held', message };
    }
    this.reportedHolds.delete(name);
    const people = mergePeople(previous, snapshot);
    const audit: AuditInput[] = [
      { type: 'identity.synced', requestId: null, actor: 'latch', at, data: { source: name, people: snapshot.people.length, groups: snapshot.groups.length, leavers: plan.leavers.length, ...(plan.held ? { massDisableAllowed: true } : {}) } },
      ...plan.leavers.map((leaver): AuditInput => ({ type: 'identity.departed', requestId: null, actor: 'latch', at, data: { ...leaver } })),
    ];
    await this.deps.store.replaceSnapshot(name, { people, groups: snapshot.groups }, at, audit);
    await this.load();
    this.deps.log.info({ source: name, people: snapshot.people.length, groups: snapshot.groups.length, leavers: plan.leavers.length }, `identity source ${name}: synced`);
    for (const leaver of plan.leavers) await this.offboardOne(leaver.email, { reroute: true });
    return { source: name, status: 'applied', people: snapshot.people.length, groups: snapshot.groups.length, leavers: plan.leavers };
  }

  private async offboardOne(email: string, options: { reroute: boolean }): Promise<void> {
    const reason = this.lookup.departed(email);
    if (!reason) return; // active again in another account of the source (a re-hire)
    try {
      await this.deps.offboard(email, reason, options);
    } catch (error) {
      // The next sync finishes it: offboarding acts on whatever is still open.
      this.deps.log.error({ leaver: email, err: error instanceof Error ? error.message : String(error) }, 'offboarding a leaver failed; the next sync tries again');
    }
  }

  /** Anyone gone who still has open requests: an offboarding a crash or a conflict cut short. */
  private async finishOffboarding(): Promise<void> {
    for (const email of await this.deps.openRequestPeople()) {
      if (this.lookup.departed(email)) await this.offboardOne(email, { reroute: false });
    }
  }

  /** After a SCIM push: the new state in force, and a person it deactivated offboarded at once. */
  async pushed(leavers: readonly string[]): Promise<void> {
    await this.load();
    for (const email of leavers) await this.offboardOne(email, { reroute: true });
    await this.reviewMovers();
  }

  private async reviewMovers(): Promise<void> {
    try {
      await this.deps.reviewMovers?.();
    } catch (error) {
      this.deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'revoking access of people who left a flow\'s requesters failed; the next sync tries again');
    }
  }

  /** A person as each source knows them. */
  describe(email: string): PersonSources[] {
    return this.sources().flatMap((source) => {
      const name = identitySourceName(source);
      const index = this.indexes.get(name);
      const person = index?.person(email);
      if (!index || !person) return [];
      return [{ source: name, type: source.type, id: person.id, active: person.active, deleted: person.deleted === true, manager: person.manager, groups: index.groupsOf(email) }];
    });
  }

  async health(): Promise<SourceHealth[]> {
    const syncs = new Map((await this.deps.store.syncs()).map((sync) => [sync.source, sync]));
    const iso = (at: number | null | undefined): string | null => (at ? new Date(at).toISOString() : null);
    return this.sources().map((source) => {
      const name = identitySourceName(source);
      const sync: IdentitySyncStatus | undefined = syncs.get(name);
      return {
        source: name, type: source.type, lastSuccessAt: iso(sync?.lastSuccessAt), lastAttemptAt: iso(sync?.lastAttemptAt),
        error: sync?.lastError ?? null, held: sync?.heldAt && (sync.lastSuccessAt ?? 0) < sync.heldAt ? sync.heldMessage : null, people: sync?.people ?? 0, groups: sync?.groups ?? 0,
      };
    });
  }
}
