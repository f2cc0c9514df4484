// RDS auto-discovery while Latch runs. The file's `rdsDiscovery` blocks say where to look and
// what each instance becomes; the rds_discovery job lists the regions on each block's
// interval, and the running config is the file's merged with what was found. The merge is
// pure over the last known listing of every region, so a config reload re-merges at once
// (with the new template) instead of waiting for the next pass, and a region that fails
// keeps its last known instances.
//
// An instance that disappears, or loses its tags, stops being offered at once, but its
// integration stays in the running config (retained, offered by no flow) while any grant
// on it is live: its revoke needs the integration and its provisioner. It leaves with the
// first pass after the last such grant has ended.
//
// What a pass leaves (each region's listing, the integrations in force with their config
// sources) is written to the store with the pass's audit event and read back at start-up,
// before the job runner or the HTTP server start: a restart begins with the running config
// it stopped with, so a revoke due before the first pass finds its integration, and so does
// the request modal. The listing is kept rather than only what it became, so a file edited
// while Latch was down is merged as a reload would merge it; the integrations are kept too,
// since those a block no longer makes (renamed, removed) must stay while grants on them live.
import { isDeepStrictEqual } from 'node:util';
import { Integration as IntegrationSchema, type Integration, type LatchConfig, type RdsDiscovery } from '../config/schema.js';
import type { RequestState } from '../core/lifecycle.js';
import type { ActiveConfig, Logger } from '../handlers/context.js';
import { AwsClients } from '../provisioners/aws/clients.js';
import { classifyInstances, DEFAULT_TAG_KEYS, listRdsInstances, type DiscoveryOptions, type DiscoveryProblem, type DiscoveryTagKeys } from '../provisioners/aws/rds-discovery.js';
import type { RdsInstance } from '../provisioners/aws/rds-instance.js';
import { AwsConnection } from '../provisioners/aws/settings.js';
import type { Provisioner } from '../provisioners/provisioner.js';
import type { ProvisionerRegistry } from '../provisioners/registry.js';
import type { AuditInput, RdsDiscoveryListing, Store } from '../storage/store.js';

/** Requests whose grants exist, or may come to exist, in a backend (as a config reload counts them). */
const LIVE: readonly RequestState[] = ['approved', 'granting', 'active', 'revoking', 'revoke_failed'];

export interface RdsDiscoveryOptions {
  store: Store;
  log: Logger;
  now(): number;
  env: NodeJS.ProcessEnv;
  current(): ActiveConfig;
  /** Puts a merged config in force (the same file, other discovered integrations). */
  apply(merged: LatchConfig): void;
  alertAdmins(text: string): Promise<void>;
}

/** What a block found, as `/healthz?details=1` shows it next to the integrations. */
export interface RdsDiscoveryHealth {
  integration: string;
  type: 'rds-discovery';
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
  lastGrantMs: null;
  lastRevokeMs: null;
  discovered: string[];
  retained: string[];
  lastPassAt: number | null;
}

interface RegionState {
  instances: RdsInstance[];
  /** When this listing was read (it may be older than the last pass, when the region failed since). */
  at: number;
}

interface BlockState {
  regions: Map<string, RegionState>;
  /** The last pass's own problems (regions and instances AWS would not show). */
  listingProblems: DiscoveryProblem[];
  lastPassAt: number | null;
  /** The problems the admins were last told of, as one key. */
  toldKey: string;
}

/** What one merge produced, besides the config. */
interface MergeOutcome {
  base: LatchConfig;
  /** Offered integrations, by block. */
  offered: Map<string, Integration[]>;
  /** The config source of each offered integration, by name. */
  sources: Map<string, Record<string, unknown>>;
  retained: Map<string, Integration>;
  problems: Map<string, DiscoveryProblem[]>;
}

export function discoveryOptions(block: RdsDiscovery): DiscoveryOptions {
  const tagKeys = Object.fromEntries(Object.entries(block.tagKeys ?? {}).filter(([, keys]) => keys !== undefined)) as Partial<DiscoveryTagKeys>;
  return {
    connectorId: block.connectorId, regions: block.regions, tagKeys,
    template: {
      namePrefix: block.namePrefix ?? `${block.name}-`, owner: block.owner, labels: block.labels, connection: block.connection, resources: block.resources,
      ...(block.accessDetails ? { accessDetails: block.accessDetails } : {}),
    },
  };
}

const problemKey = (problems: readonly DiscoveryProblem[]): string => problems.map((problem) => `${problem.code} ${problem.message}`).sort().join('\n');

/** An integration's region, as its row in the store is keyed. */
const regionOf = (integration: Integration): string => String(integration.connection.region ?? '');

/** An instance as the store keeps it: with only the tags this block reads, which alone decide what it becomes. */
function kept(instance: RdsInstance, block: RdsDiscovery): RdsInstance {
  const keys = new Set(Object.values({ ...DEFAULT_TAG_KEYS, ...discoveryOptions(block).tagKeys }).flat());
  return { ...instance, tags: Object.fromEntries(Object.entries(instance.tags).filter(([key]) => keys.has(key))) };
}

export class RdsDiscoveries {
  private readonly blocks = new Map<string, BlockState>();
  /** Discovered integrations in force, offered or retained, as the last merge put them. */
  private inForce = new Map<string, Integration>();
  private retained = new Map<string, Integration>();
  /** The block that found each integration in force, and its config source: what the store keeps of it. */
  private origins = new Map<string, { discovery: string; source: Record<string, unknown> }>();
  private readonly outcomes = new WeakMap<LatchConfig, MergeOutcome>();
  private readonly clients = new Map<string, { key: string; clients: AwsClients }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RdsDiscoveryOptions) {}

  /**
   * The file's config with what discovery found: every offered instance an integration,
   * every retained one too (offered by no flow), and each flow entry, automatic decision
   * and routing rule that names a block made to name the block's offered integrations.
   */
  merge(base: LatchConfig): LatchConfig {
    const declared = new Set(base.integrations.map((integration) => integration.name));
    const offered = new Map<string, Integration[]>();
    const sources = new Map<string, Record<string, unknown>>();
    const problems = new Map<string, DiscoveryProblem[]>();
    const taken = new Set(declared);
    for (const block of base.rdsDiscovery) {
      const state = this.blocks.get(block.name);
      const listings = block.regions.map((region) => ({ region, instances: state?.regions.get(region)?.instances ?? null, problems: [] }));
      const result = classifyInstances(listings, discoveryOptions(block), this.options.now());
      const own: Integration[] = [];
      const blockProblems = [...(state?.listingProblems.filter((problem) => block.regions.includes(problem.region)) ?? []), ...result.problems];
      for (const [index, integration] of result.integrations.entries()) {
        if (taken.has(integration.name)) {
          const region = String(integration.connection.region ?? '?');
          blockProblems.push({
            region, instance: String(integration.connection.instanceId ?? '?'), code: 'INVALID_INTEGRATION',
            message: `${String(integration.connection.instanceId)} (${region}): would be integration ${integration.name}, ${declared.has(integration.name) ? 'which the config file declares' : 'which another rdsDiscovery block already found'}; give this block another namePrefix`,
          });
          continue;
        }
        taken.add(integration.name);
        own.push(integration);
        sources.set(integration.name, result.sources[index] ?? {});
      }
      offered.set(block.name, own);
      problems.set(block.name, blockProblems);
    }
    const retained = new Map<string, Integration>();
    for (const [name, integration] of [...this.retained, ...this.inForce]) {
      if (!taken.has(name) && !retained.has(name)) retained.set(name, integration);
    }
    const expand = (names: string[]): string[] => [...new Set(names.flatMap((name) => (offered.has(name) ? (offered.get(name) ?? []).map((integration) => integration.name) : [name])))];
    const merged: LatchConfig = {
      ...base,
      integrations: [...base.integrations, ...[...offered.values()].flat(), ...retained.values()],
      flows: base.flows.map((flow) => ({
        ...flow,
        access: flow.access.flatMap((entry) => ('integration' in entry && offered.has(entry.integration) ? (offered.get(entry.integration) ?? []).map((integration) => ({ ...entry, integration: integration.name })) : [entry])),
      })),
      autoDecisions: base.autoDecisions.map((rule) => (rule.when.integrations ? { ...rule, when: { ...rule.when, integrations: expand(rule.when.integrations) } } : rule)),
      settings: base.settings.routing
        ? { ...base.settings, routing: base.settings.routing.map((route) => (route.when.integrations ? { ...route, when: { ...route.when, integrations: expand(route.when.integrations) } } : route)) }
        : base.settings,
    };
    this.outcomes.set(merged, { base, offered, sources, retained, problems });
    return merged;
  }

  /** The file's config a merged one was made from (the config itself when it was not merged here). */
  baseOf(config: LatchConfig): LatchConfig {
    return this.outcomes.get(config)?.base ?? config;
  }

  /** Records a merged config as the one in force: what it offers and retains is what the next merge starts from. */
  adopt(config: LatchConfig): void {
    const outcome = this.outcomes.get(config);
    if (!outcome) return;
    this.inForce = new Map([...[...outcome.offered.values()].flat(), ...outcome.retained.values()].map((integration) => [integration.name, integration]));
    this.retained = outcome.retained;
    const origins = new Map<string, { discovery: string; source: Record<string, unknown> }>();
    for (const [discovery, integrations] of outcome.offered) {
      for (const integration of integrations) origins.set(integration.name, { discovery, source: outcome.sources.get(integration.name) ?? {} });
    }
    for (const name of outcome.retained.keys()) {
      const origin = this.origins.get(name);
      if (origin) origins.set(name, origin);
    }
    this.origins = origins;
    for (const name of this.blocks.keys()) {
      if (!outcome.base.rdsDiscovery.some((block) => block.name === name)) this.forget(name);
    }
  }

  /**
   * Takes up what the last passes before a restart left in the store, and returns the file's
   * config merged with it: the running config Latch stopped with (a file edited meanwhile is
   * merged as a reload would). Call once, before anything reads the running config.
   */
  async load(base: LatchConfig): Promise<LatchConfig> {
    const { store, log } = this.options;
    for (const row of await store.rdsDiscoveryListings()) {
      const block = base.rdsDiscovery.find((candidate) => candidate.name === row.discovery);
      if (block && block.regions.includes(row.region)) {
        const state: BlockState = this.blocks.get(block.name) ?? { regions: new Map(), listingProblems: [], lastPassAt: null, toldKey: '' };
        // A region that failed before it was ever listed has its problems and no instances.
        if (row.instances && row.listedAt !== null) {
          state.regions.set(row.region, { instances: row.instances as unknown as RdsInstance[], at: row.listedAt });
          state.lastPassAt = Math.max(state.lastPassAt ?? 0, row.listedAt);
        }
        state.listingProblems.push(...(row.problems as unknown as DiscoveryProblem[]));
        this.blocks.set(block.name, state);
      }
      for (const [source, retained] of [...row.offered.map((each) => [each, false] as const), ...row.retained.map((each) => [each, true] as const)]) {
        const parsed = IntegrationSchema.safeParse(source);
        if (!parsed.success) {
          // Only an upgrade that changed what an integration may say gets here; its grants' revokes will say so.
          log.warn({ discovery: row.discovery, integration: source.name, issues: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) }, `RDS discovery ${row.discovery}: the stored integration ${String(source.name)} is no longer valid and is left out`);
          continue;
        }
        this.inForce.set(parsed.data.name, parsed.data);
        if (retained) this.retained.set(parsed.data.name, parsed.data);
        this.origins.set(parsed.data.name, { discovery: row.discovery, source });
      }
    }
    const merged = this.merge(base);
    // The admins were told of the problems as they stood at the last pass: the same ones are not news after a restart.
    for (const [name, problems] of this.outcomes.get(merged)?.problems ?? []) {
      const state = this.blocks.get(name);
      if (state) state.toldKey = problemKey(problems);
    }
    return merged;
  }

  /** One pass of a block: list its regions, merge, record and apply what changed. Passes run one at a time. */
  run(name: string): Promise<void> {
    const next = this.queue.then(() => this.runNow(name));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Lets go of every retained integration no live grant needs any more. A block's own pass
   * does this for its instances; this is for those of a block a reload removed, which no
   * pass will look at again.
   */
  prune(): Promise<void> {
    const next = this.queue.then(() => this.pruneNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  health(): RdsDiscoveryHealth[] {
    const { config } = this.options.current();
    const outcome = this.outcomes.get(config);
    return this.options.current().config.rdsDiscovery.map((block) => {
      const state = this.blocks.get(block.name);
      const problems = outcome?.problems.get(block.name) ?? [];
      const regions = block.regions.map((region) => {
        const failed = state?.listingProblems.find((problem) => problem.region === region && problem.instance === null);
        const known = state?.regions.get(region);
        const detail = failed
          ? `${failed.message}${known ? `; keeping the ${known.instances.length} instance(s) listed at ${new Date(known.at).toISOString()}` : ''}`
          : known ? `${known.instances.length} instance(s) listed` : 'not listed yet';
        return { name: `region ${region}`, ok: !failed && known !== undefined, detail };
      });
      const instanceProblems = problems.filter((problem) => problem.instance !== null).map((problem) => ({ name: problem.code, ok: false, detail: problem.message }));
      return {
        integration: block.name, type: 'rds-discovery', ok: problems.length === 0 && regions.every((region) => region.ok),
        checks: [...regions, ...instanceProblems], lastGrantMs: null, lastRevokeMs: null,
        discovered: (outcome?.offered.get(block.name) ?? []).map((integration) => integration.name),
        retained: [...(outcome?.retained.keys() ?? [])].filter((retained) => retained.startsWith(block.namePrefix ?? `${block.name}-`)),
        lastPassAt: state?.lastPassAt ?? null,
      };
    });
  }

  /** Integrations a merged config keeps only for the grants on them (none for a config not merged here). */
  retainedIn(config: LatchConfig): Integration[] {
    return [...(this.outcomes.get(config)?.retained.values() ?? [])];
  }

  /**
   * Names that moved between offered and retained from one merged config to the next: their
   * backends must be built anew (a retained one is wrapped so that it grants nothing new).
   */
  retentionChanged(before: LatchConfig, after: LatchConfig): string[] {
    const was = new Set(this.retainedIn(before).map((integration) => integration.name));
    const is = new Set(this.retainedIn(after).map((integration) => integration.name));
    const names = new Set(after.integrations.map((integration) => integration.name));
    return [...new Set([...was, ...is])].filter((name) => names.has(name) && was.has(name) !== is.has(name));
  }

  /**
   * Pins a revoke-only backend for every retained integration: an approval that was pending
   * when the instance went away, or an activation click, cannot grant there any more.
   */
  pinRetained(registry: ProvisionerRegistry, config: LatchConfig): void {
    for (const integration of this.retainedIn(config)) {
      if (!registry.supports(integration)) continue;
      const current = registry.for(integration);
      if (!revokeOnlyBackends.has(current)) registry.use(integration.name, revokeOnly(current, integration.name));
    }
  }

  close(): void {
    for (const name of [...this.clients.keys()]) this.forget(name);
  }

  private forget(name: string): void {
    this.blocks.delete(name);
    this.clients.get(name)?.clients.destroy();
    this.clients.delete(name);
  }

  /** The block's AWS clients, made anew when its AWS connection (region, via) changed. */
  private clientsFor(block: RdsDiscovery): AwsClients {
    const { region, via, viaExternalId } = block.connection;
    const connection = AwsConnection.parse({ region: typeof region === 'string' ? region : block.regions[0], ...(via !== undefined ? { via } : {}), ...(viaExternalId !== undefined ? { viaExternalId } : {}) });
    const key = JSON.stringify(connection);
    const known = this.clients.get(block.name);
    if (known?.key === key) return known.clients;
    known?.clients.destroy();
    const clients = new AwsClients(`rds-discovery:${block.name}`, connection, { now: this.options.now });
    this.clients.set(block.name, { key, clients });
    return clients;
  }

  private async runNow(name: string): Promise<void> {
    const { store, log, now } = this.options;
    const block = this.options.current().config.rdsDiscovery.find((candidate) => candidate.name === name);
    if (!block) return;
    let clients: AwsClients;
    const state: BlockState = this.blocks.get(name) ?? { regions: new Map(), listingProblems: [], lastPassAt: null, toldKey: '' };
    try {
      clients = this.clientsFor(block);
    } catch (error) {
      // The connection's AWS keys are checked here only: the file's checks do not know AWS.
      state.listingProblems = block.regions.map((region) => ({ region, instance: null, code: 'REGION_FAILED', message: `${region}: the connection cannot reach AWS: ${error instanceof Error ? error.message : String(error)}` }));
      this.blocks.set(name, state);
      return this.settle(block, state);
    }
    const listings = await listRdsInstances(clients, block.regions);
    const at = now();
    for (const listing of listings) {
      if (!listing.instances) continue;
      // An instance whose tags could not be read this time (throttled, denied) is kept as last listed, like a failed region.
      const unreadable = new Set(listing.problems.filter((problem) => problem.instance !== null && (problem.code === 'ACCESS_DENIED' || problem.code === 'REGION_FAILED')).map((problem) => problem.instance));
      const kept = (state.regions.get(listing.region)?.instances ?? []).filter((instance) => unreadable.has(instance.identifier) && !listing.instances?.some((listed) => listed.identifier === instance.identifier));
      state.regions.set(listing.region, { instances: [...listing.instances, ...kept], at });
    }
    for (const region of [...state.regions.keys()]) if (!block.regions.includes(region)) state.regions.delete(region);
    state.listingProblems = listings.flatMap((listing) => listing.problems);
    state.lastPassAt = at;
    this.blocks.set(name, state);
    log.info({ discovery: name, regions: listings.map((listing) => `${listing.region}:${listing.instances ? listing.instances.length : 'failed'}`) }, `RDS discovery ${name}: listed ${listings.filter((listing) => listing.instances).length}/${listings.length} region(s)`);
    await this.settle(block, state);
    // What a removed block left for live grants goes once they end, not only at the next reload.
    await this.pruneNow();
  }

  private async pruneNow(): Promise<void> {
    const { store, log, now, current } = this.options;
    const before = current().config;
    const blocks = this.baseOf(before).rdsDiscovery;
    const orphans = this.retainedIn(before).map((integration) => integration.name).filter((name) => !blocks.some((block) => this.ownedBy(block, name)));
    if (orphans.length === 0) return;
    const live = await this.liveIntegrations();
    const removed = orphans.filter((name) => !live.has(name));
    if (removed.length === 0) return;
    for (const name of removed) {
      this.retained.delete(name);
      this.inForce.delete(name);
    }
    const merged = this.merge(this.baseOf(current().config));
    await store.replaceRdsDiscoveryListings(this.listingsOf(merged), [{ type: 'integrations.discovered', requestId: null, actor: 'latch', at: now(), data: { discovery: null, added: [], removed, changed: [], retained: [], offered: [], problems: [] } }]);
    log.info({ removed }, `RDS discovery: removed ${removed.join(', ')}, whose discovery is no longer in the config and on which no grant is live`);
    this.options.apply(current().config === before ? merged : this.merge(this.baseOf(current().config)));
  }

  private async liveIntegrations(): Promise<Set<string>> {
    const records = await this.options.store.listRequests({ states: LIVE, limit: Number.MAX_SAFE_INTEGER });
    return new Set(records.flatMap((record) => record.grants.filter((grant) => grant.state !== 'revoked').map((grant) => grant.integration)));
  }

  /** Merges, records what changed (before it takes effect), applies, and tells the admins when the problems changed. */
  private async settle(block: RdsDiscovery, state: BlockState): Promise<void> {
    const { store, log, now, current } = this.options;
    const before = current().config;
    let merged = this.merge(this.baseOf(before));
    // What this block no longer offers stays only while a grant on it is live (its revoke needs it).
    const leaving = [...(this.outcomes.get(merged)?.retained.keys() ?? [])].filter((name) => this.ownedBy(block, name));
    if (leaving.length > 0) {
      const live = await this.liveIntegrations();
      const done = leaving.filter((name) => !live.has(name));
      for (const name of done) {
        this.retained.delete(name);
        this.inForce.delete(name);
      }
      if (done.length > 0) merged = this.merge(this.baseOf(before));
    }
    const outcome = this.outcomes.get(merged);
    if (!outcome) return;
    const previous = new Map(before.integrations.map((integration) => [integration.name, integration]));
    const declared = new Set(outcome.base.integrations.map((integration) => integration.name));
    const offeredNow = outcome.offered.get(block.name) ?? [];
    // Back on offer after being retained counts as added: flows offer it again.
    const added = offeredNow.filter((integration) => !previous.has(integration.name) || this.retainedBefore(before, integration.name)).map((integration) => integration.name);
    const changed = offeredNow.filter((integration) => previous.has(integration.name) && !this.retainedBefore(before, integration.name) && !isDeepStrictEqual(previous.get(integration.name), integration)).map((integration) => integration.name);
    const mergedNames = new Set(merged.integrations.map((integration) => integration.name));
    const removed = [...previous.keys()].filter((name) => !declared.has(name) && !mergedNames.has(name) && this.ownedBy(block, name));
    const retired = [...outcome.retained.keys()].filter((name) => this.ownedBy(block, name) && !this.retainedBefore(before, name));
    const problems = outcome.problems.get(block.name) ?? [];
    const key = problemKey(problems);
    const problemsChanged = key !== state.toldKey;
    const audit: AuditInput[] = [];
    if (added.length + changed.length + removed.length + retired.length > 0 || problemsChanged) {
      const data = {
        discovery: block.name, added, removed, changed, retained: retired,
        offered: offeredNow.map((integration) => integration.name),
        problems: problems.map(({ region, instance, code, message }) => ({ region, instance, code, message })),
      };
      audit.push({ type: 'integrations.discovered', requestId: null, actor: 'latch', at: now(), data });
      log[problems.length > 0 ? 'warn' : 'info']({ ...data, problems: problems.map((problem) => `${problem.code} ${problem.message}`) }, `RDS discovery ${block.name}: ${[
        added.length > 0 ? `added ${added.join(', ')}` : '', changed.length > 0 ? `changed ${changed.join(', ')}` : '', removed.length > 0 ? `removed ${removed.join(', ')}` : '',
        retired.length > 0 ? `no longer offered, kept for live grants: ${retired.join(', ')}` : '', problems.length > 0 ? `${problems.length} problem(s)` : '',
      ].filter(Boolean).join('; ') || 'problems resolved'}`);
    }
    // Written at every pass, changed or not: the listing's time is part of what a restart resumes from.
    await store.replaceRdsDiscoveryListings(this.listingsOf(merged), audit);
    // A reload may have put another file in force while the event was written: merged again with that one.
    this.options.apply(current().config === before ? merged : this.merge(this.baseOf(current().config)));
    if (problemsChanged) {
      state.toldKey = key;
      const text = problems.length > 0
        ? `RDS discovery ${block.name} found ${problems.length} instance(s) or region(s) it cannot offer:\n${problems.map((problem) => `• ${problem.code}: ${problem.message}`).join('\n')}\nThe tags Latch reads are in docs/provisioners/aws.md (RDS discovery by tags); /healthz?details=1 shows the current list, and you are told again only when it changes.`
        : `RDS discovery ${block.name}: every problem reported before is resolved.`;
      await this.options.alertAdmins(text).catch((error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not tell the admins about the RDS discovery problems'));
    }
  }

  /** What the store keeps of a merged config: every block's listing by region, with the integrations in force found there. */
  private listingsOf(merged: LatchConfig): RdsDiscoveryListing[] {
    const outcome = this.outcomes.get(merged);
    const rows = new Map<string, RdsDiscoveryListing>();
    const row = (discovery: string, region: string): RdsDiscoveryListing => {
      const key = JSON.stringify([discovery, region]);
      let found = rows.get(key);
      if (!found) rows.set(key, (found = { discovery, region, listedAt: null, instances: null, problems: [], offered: [], retained: [] }));
      return found;
    };
    for (const block of outcome?.base.rdsDiscovery ?? []) {
      const state = this.blocks.get(block.name);
      for (const [region, listing] of state?.regions ?? []) {
        const entry = row(block.name, region);
        entry.listedAt = listing.at;
        entry.instances = listing.instances.map((instance) => kept(instance, block)) as unknown as Record<string, unknown>[];
        entry.problems = (state?.listingProblems ?? []).filter((problem) => problem.region === region).map(({ region: at, instance, code, message }) => ({ region: at, instance, code, message }));
      }
    }
    for (const [discovery, integrations] of outcome?.offered ?? []) {
      for (const integration of integrations) row(discovery, regionOf(integration)).offered.push(outcome?.sources.get(integration.name) ?? {});
    }
    for (const [name, integration] of outcome?.retained ?? []) {
      const origin = this.origins.get(name);
      if (origin) row(origin.discovery, regionOf(integration)).retained.push(origin.source);
    }
    return [...rows.values()];
  }

  /** A name a block's template would give (its prefix), so a removal is told by the block that made it. */
  private ownedBy(block: RdsDiscovery, name: string): boolean {
    return name.startsWith(block.namePrefix ?? `${block.name}-`);
  }

  private retainedBefore(config: LatchConfig, name: string): boolean {
    return this.outcomes.get(config)?.retained.has(name) ?? false;
  }
}

const revokeOnlyBackends = new WeakSet<Provisioner>();

/** The backend of a retained integration: revokes, checks and lists as before, grants and extends nothing. */
export function revokeOnly(inner: Provisioner, name: string): Provisioner {
  const message = `integration ${name} is no longer offered: RDS discovery no longer finds the instance tagged for this Latch, and keeps it only until the access already granted there has ended`;
  const refuse = (): Promise<never> => Promise.reject(new Error(message));
  const wrapper: Provisioner = {
    type: inner.type,
    ...(inner.listsGrants !== undefined ? { listsGrants: inner.listsGrants } : {}),
    grant: refuse,
    extend: refuse,
    revoke: (input) => inner.revoke(input),
    ...(inner.revokeMany ? { revokeMany: inner.revokeMany.bind(inner) } : {}),
    check: (input) => inner.check(input),
    listManaged: (integration) => inner.listManaged(integration),
    ...(inner.removeOrphan ? { removeOrphan: inner.removeOrphan.bind(inner) } : {}),
    ...(inner.resetCredentials ? { resetCredentials: inner.resetCredentials.bind(inner) } : {}),
    checkRequest: () => message,
    ...(inner.checkHealth ? { checkHealth: inner.checkHealth.bind(inner) } : {}),
    close: () => inner.close(),
  };
  revokeOnlyBackends.add(wrapper);
  return wrapper;
}
