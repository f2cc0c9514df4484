// Live config reload: on SIGHUP, on a change of the file, or when asked in-process. A file
// that does not pass the same checks as at start-up is refused; Latch keeps the config it
// runs on, says so in the log and the audit trail, and tells the admins.
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { directoryFromConfig } from '../config/directory.js';
import { configChanges, describeChanges, staleIntegrations, type ConfigChanges } from '../config/diff.js';
import { loadConfigFile } from '../config/load.js';
import { formatConfigErrors, type ConfigError } from '../config/parse.js';
import type { LatchConfig } from '../config/schema.js';
import type { RequestState } from '../core/lifecycle.js';
import type { ActiveConfig, LatchContext, Logger } from '../handlers/context.js';
import type { Provisioner } from '../provisioners/provisioner.js';
import type { ProvisionerRegistry } from '../provisioners/registry.js';
import type { Store } from '../storage/store.js';

export type ReloadTrigger = 'signal' | 'file' | 'api';

export type ReloadOutcome =
  | { ok: true; changed: boolean; sha256: string; changes: ConfigChanges | null }
  | { ok: false; sha256: string | null; errors: ConfigError[] };

export interface ReloaderOptions {
  file: string;
  store: Store;
  log: Logger;
  now(): number;
  current(): ActiveConfig;
  /** Puts a checked config in force, and whatever hangs on it. */
  apply(next: ActiveConfig, changes: ConfigChanges): void;
  /**
   * What the file's config becomes in force (RDS discovery adds the integrations it found):
   * applied before the checks and the diff, so what is live and stays is not taken for removed.
   */
  merge?(config: LatchConfig): LatchConfig;
  /** Runs just before config.loaded is recorded, for what must be in place from that event on (new audit sinks' cursors). */
  beforeRecord?(next: LatchConfig): Promise<void>;
  alertAdmins(text: string): Promise<void>;
}

/** Requests whose grants exist, or may come to exist, in a backend. */
const LIVE: readonly RequestState[] = ['approved', 'granting', 'active', 'revoking', 'revoke_failed'];
/** Editors write a file in several steps (temp file, rename, chmod); one reload after they are done. */
const WATCH_DEBOUNCE_MS = 300;

function sha256Of(file: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return null;
  }
}

/**
 * Changes the running state cannot take: the instance prefix (every principal Latch made
 * carries it, and backends refuse to touch principals without it), and integrations or
 * resources that still hold live grants (their revoke would find nothing to revoke with).
 */
async function refusals(file: string, before: LatchConfig, after: LatchConfig, store: Store): Promise<ConfigError[]> {
  const errors: ConfigError[] = [];
  const at = (key: string, message: string): ConfigError => ({ file, line: 0, column: 0, key, message });
  if (before.settings.instance !== after.settings.instance) {
    errors.push(at('settings.instance', `cannot change from "${before.settings.instance}" to "${after.settings.instance}" while Latch runs: the principals it made carry the old prefix. Change it with a restart, once no grant is live.`));
  }
  const kept = new Map(after.integrations.map((integration) => [integration.name, new Set(integration.resources.map((resource) => resource.name))]));
  const orphaned = new Map<string, Set<string>>();
  for (const { request, grants } of await store.listRequests({ states: LIVE, limit: Number.MAX_SAFE_INTEGER })) {
    for (const grant of grants) {
      if (grant.state === 'revoked') continue;
      const resources = kept.get(grant.integration);
      const key = resources ? `integrations.${grant.integration}.resources.${grant.resource}` : `integrations.${grant.integration}`;
      if (resources?.has(grant.resource)) continue;
      orphaned.set(key, (orphaned.get(key) ?? new Set()).add(request.id));
    }
  }
  for (const [key, ids] of orphaned) {
    const what = key.includes('.resources.') ? `resource ${key.split('.resources.')[1] ?? ''} of integration ${key.split('.')[1] ?? ''}` : `integration ${key.split('.')[1] ?? ''}`;
    const list = [...ids];
    errors.push(at(key, `${what} is no longer in the file, but ${list.length} live request${list.length === 1 ? '' : 's'} hold${list.length === 1 ? 's' : ''} access through it (${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}); keep it until that access has ended`));
  }
  return errors;
}

export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The last file content refused, so an unchanged broken file is not reported again on every write event. */
  private refusedHash: string | null = null;

  constructor(private readonly options: ReloaderOptions) {}

  /** Loads the file again; reloads run one at a time, in the order they were asked for. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.reloadNow(trigger));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Watches the file's directory rather than the file: editors and config-map mounts
   * replace the file (a rename, a symlink swap), which a watch on the old inode misses.
   */
  watch(): void {
    const { file, log } = this.options;
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), (_event, changed) => {
        // null: the platform does not say which file; "..data": a Kubernetes config-map swap.
        if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => this.fileChanged(), WATCH_DEBOUNCE_MS);
      });
      this.watcher.on('error', (error) => log.warn({ err: error.message, file }, 'stopped watching the config file; reload with SIGHUP or `latch config reload`'));
    } catch (error) {
      log.warn({ err: error instanceof Error ? error.message : String(error), file }, 'cannot watch the config file; reload with SIGHUP or `latch config reload`');
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  private fileChanged(): void {
    this.timer = null;
    const hash = sha256Of(this.options.file);
    // Gone for a moment (between an editor's unlink and its rename): the next event brings it back.
    if (hash === null || hash === this.options.current().hash || hash === this.refusedHash) return;
    void this.reload('file').catch((error: unknown) => {
      this.options.log.error({ err: error instanceof Error ? error.message : String(error) }, 'config reload failed');
    });
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { file, store, log, now, current } = this.options;
    const previous = current();
    const read = loadConfigFile(file);
    const loaded = read.ok && this.options.merge ? { ...read, config: this.options.merge(read.config) } : read;
    if (loaded.ok && loaded.hash === previous.hash && trigger === 'file') return { ok: true, changed: false, sha256: loaded.hash, changes: null };
    const errors = loaded.ok ? await refusals(file, previous.config, loaded.config, store) : loaded.errors;
    if (!loaded.ok || errors.length > 0) return this.refuse(trigger, errors, loaded.ok ? loaded.hash : sha256Of(file));

    this.refusedHash = null;
    const changes = configChanges(previous.config, loaded.config);
    const summary = describeChanges(changes);
    await this.options.beforeRecord?.(loaded.config);
    // Recorded before it takes effect: no decision is ever made under a config the trail does not show.
    await store.commit({
      audit: [{
        type: 'config.loaded', requestId: null, actor: 'latch', at: now(),
        data: { file, sha256: loaded.hash, previous: previous.hash, trigger, flows: loaded.config.flows.length, integrations: loaded.config.integrations.length, changes },
      }],
    });
    this.options.apply({ config: loaded.config, directory: directoryFromConfig(loaded.config), hash: loaded.hash, file }, changes);
    log.info({ file, sha256: loaded.hash, previous: previous.hash, trigger, changes }, `config reloaded: ${summary}`);
    return { ok: true, changed: loaded.hash !== previous.hash, sha256: loaded.hash, changes };
  }

  private async refuse(trigger: ReloadTrigger, errors: ConfigError[], sha256: string | null): Promise<ReloadOutcome> {
    const { file, store, log, now, current } = this.options;
    const report = formatConfigErrors(errors);
    const kept = current().hash;
    this.refusedHash = sha256;
    log.error({ file, sha256, kept, trigger, errors: report.split('\n') }, `config reload refused; Latch keeps running on the previous config (sha256 ${kept.slice(0, 12)}):\n${report}`);
    await store.commit({ audit: [{ type: 'config.refused', requestId: null, actor: 'latch', at: now(), data: { file, sha256, kept, trigger, errors } }] });
    await this.options.alertAdmins(`Latch refused the new config in ${file} and keeps running on the previous one (sha256 ${kept.slice(0, 12)}). Fix it and save again, or run \`latch config check\`:\n${report}`);
    return { ok: false, sha256, errors };
  }
}

// Closed this long after they were replaced, so operations already using them can finish.
const RETIRED_CLOSE_DELAY_MS = 60_000;

/**
 * Backend instances after a reload. The registry keeps one instance (and its connection
 * pool) per integration name, so an integration whose settings changed gets a registry
 * that builds it anew: instances of unchanged integrations carry over into `fresh`, the
 * stale ones are closed a minute later. Returns a function that closes them at once.
 */
export function replaceStaleProvisioners(ctx: LatchContext, fresh: ProvisionerRegistry, before: LatchConfig, changes: ConfigChanges): () => Promise<void> {
  const stale = new Set(staleIntegrations(changes));
  if (stale.size === 0) return async () => {};
  const previous = ctx.provisioners;
  const retired: Provisioner[] = [];
  for (const integration of before.integrations) {
    if (!previous.supports(integration)) continue;
    let instance: Provisioner;
    try {
      instance = previous.for(integration);
    } catch {
      continue; // its settings never produced an instance
    }
    if (stale.has(integration.name)) retired.push(instance);
    else fresh.use(integration.name, instance);
  }
  ctx.provisioners = fresh;
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= Promise.allSettled(retired.map((instance) => instance.close())).then(() => undefined);
    return closed;
  };
  setTimeout(() => void close(), RETIRED_CLOSE_DELAY_MS).unref();
  return close;
}
