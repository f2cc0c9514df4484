import type { LatchConfig } from '../config/schema.js';
import type { Directory } from '../core/directory.js';
import type { RequestRecord } from '../core/types.js';
import type { OnCall } from '../core/oncall.js';
import type { ProvisionerRegistry } from '../provisioners/registry.js';
import type { Job, JobClaim, JobKind, Store } from '../storage/store.js';
import type { Notifier } from './notifier.js';

export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface IdentitySync {
  /** Syncs one source, or all that Latch reads; outcomes per source. */
  sync(only?: string, options?: { allowMassDisable?: boolean }): Promise<{ source: string; status: string }[]>;
}

/** The config in force: read at every decision, so a change applies to the next click. */
export interface ActiveConfig {
  config: LatchConfig;
  directory: Directory;
  /** SHA-256 of the file, recorded in the audit trail. */
  hash: string;
  file: string;
}

export interface LatchContext {
  store: Store;
  current(): ActiveConfig;
  provisioners: ProvisionerRegistry;
  notifier: Notifier;
  log: Logger;
  now(): number;
  /** Tells the scheduler that jobs were enqueued, so it re-arms its timer. */
  wake(): void;
  /**
   * The job runner's hand for jobs someone waits on (handlers/start-at-once.ts): `claim` gives
   * the claim a job is enqueued with, or null when the runner cannot take it now; `start`
   * runs the jobs a commit inserted claimed, `known` the request as that commit left it (their
   * handler starts from it instead of reading it back); `settled` resolves when those of a
   * request have ended (or after the runner's holdForGrantMs). Without it such jobs wait for
   * the runner's claim.
   */
  jobsAtOnce?: { claim(kind: JobKind): JobClaim | null; start(jobs: readonly Job[], known?: RequestRecord): void; settled(requestId: string): Promise<void> };
  /** On-call schedules (the config's rotas, PagerDuty, Opsgenie); without it nobody is on call. */
  oncall?: OnCall;
  /**
   * Runs the jobs due now and resolves when they are done: an emergency grant is in place
   * before its answer goes back to the chat.
   */
  runJobsNow?(): Promise<void>;
  /** Identity sources (bot/identity/sources.ts): what the identity_sync job and `identities sync` run. */
  identities?: IdentitySync;
  /** RDS auto-discovery (bot/rds-discovery.ts): what the rds_discovery job runs, one block's pass. */
  rdsDiscovery?: { run(block: string): Promise<void> };
  /** Writes to Latch's admins directly (bot/admin-alert.ts). */
  alertAdmins?(text: string): Promise<void>;
}
