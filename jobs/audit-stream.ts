// Audit streaming. The audit log is the sinks' outbox: an event is committed in the same
// transaction as the change it records, and each sink has a durable cursor (the seq of
// the last event it acknowledged). One worker per sink reads the events after its
// cursor in seq order, hands them to the sink's transport, and only then moves the
// cursor, so a crash or a restart sends the unacknowledged events again (at least once)
// and nothing overtakes anything (in order, per request and overall). Deliveries never
// run inside a life-cycle transaction: a sink that is down delays only itself.
import { isDeepStrictEqual } from 'node:util';
import type { AuditSink } from '../config/schema.js';
import type { Logger } from '../handlers/context.js';
import type { AuditSinkCursor, Store } from '../storage/store.js';
import { createSinkTransport } from './audit-sinks/create.js';
import { streamedEvent } from './audit-sinks/event.js';
import type { SinkTransport } from './audit-sinks/transport.js';
import { auditSinkDelivered, auditSinkFailures, type SinkLag } from './audit-stream-metrics.js';
import { backoffDelay } from './backoff.js';
import { isDeadLocalOwner, localOwnerId } from './job-owner.js';
import { errorText } from './job-handler.js';

export interface AuditStreamOptions {
  store: Store;
  log: Logger;
  now(): number;
  /** Identifies this process's sink leases, like the job runner's owner (default: host, pid and a fresh id). */
  owner?: string;
  env: NodeJS.ProcessEnv;
  /** `settings.instance` of the config in force, carried by every event. */
  instance(): string;
  alertAdmins(text: string): Promise<void>;
  /** How often a caught-up sink looks for new events (besides `wake`). */
  pollMs?: number;
  /** Backoff after failed deliveries: the first retry after about `retryBaseMs`, doubling up to `retryMaxMs`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long a sink's lease lasts; another process takes the sink over after it. */
  leaseMs?: number;
}

/** `standby`: another Latch process streams to this sink now. */
export type SinkState = 'starting' | 'caught_up' | 'delivering' | 'failing' | 'standby' | 'stopped';

export interface SinkStatus {
  sink: string;
  type: AuditSink['type'];
  state: SinkState;
  /** The seq of the last event the sink acknowledged; null until its cursor was read. */
  deliveredSeq: number | null;
  lastDeliveredAt: number | null;
  /** When the current run of failures began; null while deliveries succeed. */
  failingSince: number | null;
  /** Failed deliveries since the last success. */
  failures: number;
  lastError: string | null;
  /** Whether the admins were told of the current run of failures. */
  alerted: boolean;
}

export interface SinkHealth extends SinkStatus {
  ok: boolean;
  lagEvents: number | null;
  lagSeconds: number | null;
}

const DEFAULTS = { pollMs: 1_000, retryBaseMs: 1_000, retryMaxMs: 60_000, leaseMs: 30_000 };
type Settled = Omit<AuditStreamOptions, 'owner'> & typeof DEFAULTS & { owner: string };

function minutes(ms: number): string {
  const value = Math.round(ms / 60_000);
  return value < 1 ? `${Math.round(ms / 1000)} s` : `${value} min`;
}

/** Streams to one sink, strictly one batch after another. */
class SinkWorker {
  readonly status: SinkStatus;
  private stopped = false;
  private wakeUp: (() => void) | null = null;
  private cursor: AuditSinkCursor | null = null;
  private leaseUntil = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(readonly definition: AuditSink, private readonly transport: SinkTransport, private readonly options: Settled) {
    this.status = { sink: definition.name, type: definition.type, state: 'starting', deliveredSeq: null, lastDeliveredAt: null, failingSince: null, failures: 0, lastError: null, alerted: false };
  }

  /**
   * Starts once `after` settled: a sink's replacement never delivers beside the worker it
   * replaces. Resolves when the sink's cursor exists, so a new sink's `from: now` is fixed.
   */
  start(after: Promise<void>): Promise<void> {
    const opened = after.then(() => this.options.store.openAuditCursor(this.definition.name, this.definition.from, this.options.now())).then(
      (cursor) => { this.status.deliveredSeq = cursor.deliveredSeq; },
      () => undefined, // the first step tries again, and reports it
    );
    this.running = opened.then(() => this.loop());
    return opened;
  }

  /** Looks for new events now, unless it is waiting out a failure. */
  poke(): void {
    if (this.status.state !== 'failing') this.wakeUp?.();
  }

  /** Stops after the delivery in progress; resolves once the transport is closed. */
  stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    return this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let delay: number;
      try {
        delay = await this.step();
      } catch (error) {
        delay = this.failed(error);
      }
      if (delay > 0 && !this.stopped) await this.sleep(delay);
    }
    this.status.state = 'stopped';
    await this.transport.close().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }

  /** One batch; returns how long to wait before the next. */
  private async step(): Promise<number> {
    const { store, owner, leaseMs, pollMs, now } = this.options;
    const sink = this.definition.name;
    const at = now();
    // The lease is renewed at half its length, not on every poll: each renewal is a write.
    if (at >= this.leaseUntil - leaseMs / 2) {
      // After a gap (a pause, a standby) another process may have moved the cursor meanwhile.
      if (at >= this.leaseUntil) this.cursor = null;
      if (!(await store.leaseAuditCursor(sink, owner, at, at + leaseMs)) && !(await this.openAndLease(at))) {
        this.status.state = 'standby';
        this.cursor = null;
        return leaseMs / 2;
      }
      this.leaseUntil = at + leaseMs;
    }
    this.cursor ??= await store.openAuditCursor(sink, this.definition.from, at);
    const from = this.cursor.deliveredSeq;
    this.status.deliveredSeq = from;
    const stored = await store.auditEvents({ afterSeq: from, limit: this.transport.batchSize });
    if (stored.length === 0) {
      this.recovered(0);
      this.status.state = 'caught_up';
      return pollMs;
    }
    if (this.status.state !== 'failing') this.status.state = 'delivering';
    const instance = this.options.instance();
    await this.whileLeased(this.transport.deliver(stored.map((event) => streamedEvent(event, instance))));
    const last = (stored.at(-1) as (typeof stored)[number]).seq;
    const deliveredAt = now();
    if (!(await store.advanceAuditCursor(sink, owner, from, last, deliveredAt))) {
      // The cursor moved elsewhere (the lease was lost meanwhile): read it again.
      this.cursor = null;
      this.leaseUntil = 0;
      return 0;
    }
    this.cursor = { ...this.cursor, deliveredSeq: last, deliveredAt };
    this.status.deliveredSeq = last;
    this.status.lastDeliveredAt = deliveredAt;
    auditSinkDelivered.inc({ sink }, stored.length);
    this.recovered(stored.length);
    this.status.state = 'delivering';
    return 0;
  }

  /** Keeps the lease while a slow delivery runs, so no other process starts on the same events meanwhile. */
  private async whileLeased(delivery: Promise<void>): Promise<void> {
    const { store, owner, leaseMs, now } = this.options;
    const timer = setInterval(() => {
      const at = now();
      void store.leaseAuditCursor(this.definition.name, owner, at, at + leaseMs).then((held) => {
        if (held) this.leaseUntil = at + leaseMs;
      }, () => undefined);
    }, Math.max(100, leaseMs / 3));
    try {
      await delivery;
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * When the lease was refused: a sink seen for the first time has no cursor row yet, and a
   * lease left by a Latch that crashed on this host is taken over at once, not waited out.
   */
  private async openAndLease(at: number): Promise<boolean> {
    const { store, owner, leaseMs, log } = this.options;
    const sink = this.definition.name;
    this.cursor = await store.openAuditCursor(sink, this.definition.from, at);
    this.status.deliveredSeq = this.cursor.deliveredSeq;
    const holder = this.cursor.owner;
    if (holder && isDeadLocalOwner(holder, owner)) {
      await store.releaseAuditCursors(holder);
      log.info({ sink, owner: holder }, `audit sink ${sink}: taken over from ${holder}, which no longer runs`);
    }
    return store.leaseAuditCursor(sink, owner, at, at + leaseMs);
  }

  private failed(error: unknown): number {
    const { log, now, retryBaseMs, retryMaxMs, alertAdmins } = this.options;
    const { name, type, alertAfter } = this.definition;
    const at = now();
    const status = this.status;
    status.failures += 1;
    status.failingSince ??= at;
    status.lastError = errorText(error);
    status.state = 'failing';
    auditSinkFailures.inc({ sink: name });
    const delay = backoffDelay(status.failures, retryBaseMs, retryMaxMs);
    log.warn({ sink: name, type, failures: status.failures, retryInMs: delay, err: status.lastError }, `audit sink ${name}: delivery failed; it will be retried`);
    if (!status.alerted && at - status.failingSince >= alertAfter) {
      status.alerted = true;
      void alertAdmins(`Latch cannot deliver audit events to the ${type} sink "${name}" and has been trying for ${minutes(at - status.failingSince)} (${status.failures} attempts). Last error: ${status.lastError}. Access decisions go on; the sink receives everything it missed, in order, once it is back. /metrics shows its lag (latch_audit_sink_lag_events).`);
    }
    return delay;
  }

  private recovered(delivered: number): void {
    const status = this.status;
    if (status.failingSince === null) return;
    const { log, now, alertAdmins } = this.options;
    const { name, type } = this.definition;
    log.info({ sink: name, type, failures: status.failures, delivered }, `audit sink ${name}: delivering again after ${status.failures} failed attempts`);
    if (status.alerted) void alertAdmins(`The ${type} audit sink "${name}" receives events again (it had failed for ${minutes(now() - status.failingSince)}); it is catching up on what it missed.`);
    status.failingSince = null;
    status.failures = 0;
    status.lastError = null;
    status.alerted = false;
  }
}

/** The workers of the sinks in the config in force. */
export class AuditStreamer {
  private readonly options: Settled;
  private readonly workers = new Map<string, SinkWorker>();
  /** Workers stopped by a reload that may still be finishing a delivery, by sink. */
  private readonly retiring = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(options: AuditStreamOptions) {
    this.options = { ...DEFAULTS, ...options, owner: options.owner ?? localOwnerId() };
  }

  /**
   * Puts a list of sinks in force (at start and after a reload): new sinks start, removed
   * ones stop after their delivery in progress, and a sink whose settings changed is
   * restarted with them from its cursor. Cursors stay when a sink is removed: a sink added
   * again under the same name resumes where it stopped. Resolves once new sinks have a cursor.
   */
  configure(sinks: readonly AuditSink[]): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const opened: Promise<void>[] = [];
    const wanted = new Map(sinks.map((sink) => [sink.name, sink]));
    for (const [name, worker] of this.workers) {
      if (isDeepStrictEqual(wanted.get(name), worker.definition)) continue;
      const stopped = worker.stop();
      this.retiring.set(name, stopped);
      void stopped.finally(() => {
        if (this.retiring.get(name) === stopped) this.retiring.delete(name);
      });
      this.workers.delete(name);
      if (!wanted.has(name)) this.options.log.info({ sink: name }, `audit sink ${name} removed; its cursor is kept`);
    }
    for (const sink of sinks) {
      if (this.workers.has(sink.name)) continue;
      const worker = new SinkWorker(sink, createSinkTransport(sink, this.options.env, this.options.now), this.options);
      const previous = this.retiring.get(sink.name) ?? Promise.resolve();
      this.workers.set(sink.name, worker);
      opened.push(worker.start(previous));
      this.options.log.info({ sink: sink.name, type: sink.type, from: sink.from }, `audit sink ${sink.name} (${sink.type}) streaming`);
    }
    return Promise.all(opened).then(() => undefined);
  }

  /**
   * Fixes where sinks new to Latch start, without starting them. It runs just before the
   * config.loaded that adds them is recorded (at start-up and on a reload), so that event is
   * a `from: now` sink's first and nothing committed meanwhile slips past it.
   */
  async openCursors(sinks: readonly AuditSink[]): Promise<void> {
    for (const sink of sinks) await this.options.store.openAuditCursor(sink.name, sink.from, this.options.now());
  }

  /** New audit events were committed: caught-up sinks look at once instead of at their next poll. */
  wake(): void {
    for (const worker of this.workers.values()) worker.poke();
  }

  /** Each sink's state and how far behind it is. */
  async health(): Promise<SinkHealth[]> {
    const { store, now } = this.options;
    return Promise.all([...this.workers.values()].map(async (worker): Promise<SinkHealth> => {
      const status = { ...worker.status };
      if (status.deliveredSeq === null) return { ...status, ok: false, lagEvents: null, lagSeconds: null };
      const backlog = await store.auditBacklog(status.deliveredSeq);
      const lagSeconds = backlog.oldestAt === null ? 0 : Math.max(0, (now() - backlog.oldestAt) / 1000);
      return { ...status, ok: status.failingSince === null, lagEvents: backlog.events, lagSeconds };
    }));
  }

  /** The lag gauges' reading. */
  async lags(): Promise<SinkLag[]> {
    return (await this.health()).filter((sink) => sink.lagEvents !== null)
      .map((sink) => ({ sink: sink.sink, events: sink.lagEvents ?? 0, seconds: sink.lagSeconds ?? 0, failing: sink.failingSince !== null }));
  }

  /** Stops every worker (each after its delivery in progress, waiting at most `withinMs`) and gives the leases back. */
  async stop(withinMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.stopping = true;
    const stopped = Promise.all([...[...this.workers.values()].map((worker) => worker.stop()), ...this.retiring.values()]);
    this.workers.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise<void>((resolve) => { timer = setTimeout(resolve, Number.isFinite(withinMs) ? Math.max(0, withinMs) : 2 ** 31 - 1); })]);
    clearTimeout(timer);
    await this.options.store.releaseAuditCursors(this.options.owner);
  }
}
