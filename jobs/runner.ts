import { schedule, type ScheduledTask } from 'node-cron';
import type { LatchContext, Logger } from '../handlers/context.js';
import { JOB_KINDS, type Job, type JobKind } from '../storage/store.js';
import { backoffDelay } from './backoff.js';
import { errorText, type JobHandler } from './job-handler.js';
import { isDeadLocalOwner } from './job-owner.js';

export interface RunnerOptions {
  /** Identifies this process's claims; a crashed owner's jobs return after their lease. */
  owner: string;
  leaseMs?: number;
  batchSize?: number;
  /** Jobs other than revokes running at once. */
  concurrency?: number;
  /**
   * Revoke jobs running at once, in lanes of their own: a mass expiry's revokes meet in the
   * revoke batcher (one backend call for many) and in the store's group commit, so more
   * at once is cheaper per revoke; backends stay bounded by their connection pools.
   */
  revokeConcurrency?: number;
  /** The safety-net sweep, in node-cron syntax with seconds. */
  sweep?: string;
}

/** Every line about a job names it and its request, so one search follows a request from the chat through the workers. */
function jobLogger(log: Logger, job: Job): Logger {
  const fields = { jobId: job.id, kind: job.kind, requestId: job.requestId, attempt: job.attempts };
  return {
    info: (extra, message) => log.info({ ...fields, ...extra }, message),
    warn: (extra, message) => log.warn({ ...fields, ...extra }, message),
    error: (extra, message) => log.error({ ...fields, ...extra }, message),
  };
}

/** True when `work` settles within `ms`; false when the time ran out first. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  if (!Number.isFinite(ms)) return work.then(() => true, () => true);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, ms)); });
  try {
    return await Promise.race([work.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Jobs without a request (reconcile, prune_audit) are keyed by their id: they never wait for each other. */
const busyKey = (job: Job): string => (job.requestId === null ? `job:${job.id}` : `${job.kind}:${job.requestId}`);

// setTimeout cannot wait longer than 2^31-1 ms (24.8 days); the timer is re-armed long before.
const MAX_TIMER_MS = 60 * 60 * 1000;

/** Revokes running or claimed at once from which on notifications wait for them (see kindsToClaim). */
const MASS_EXPIRY_REVOKES = 50;

/** Lanes for some job kinds, claiming only those: claimed, not yet started jobs wait in `queue`. */
interface Pool {
  readonly name: string;
  readonly kinds: readonly JobKind[];
  readonly concurrency: number;
  readonly batchSize: number;
  queue: Job[];
  readonly lanes: Set<Promise<void>>;
  /** Lanes running a job now (the others are claiming). */
  running: number;
  claiming: Promise<number> | null;
}

function pool(name: string, kinds: readonly JobKind[], concurrency: number, batchSize: number): Pool {
  return { name, kinds, concurrency: Math.max(1, concurrency), batchSize: Math.max(1, batchSize), queue: [], lanes: new Set(), running: 0, claiming: null };
}

/**
 * Runs the outbox. One timer is armed for the next due job and re-armed after every
 * change; a cron sweep every few seconds picks up anything the timer missed. No per-grant
 * timers: a million grants cost one timer.
 */
export class JobRunner {
  private readonly leaseMs: number;
  /** Revokes apart: a mass expiry neither waits behind nor holds back grants and notifications. */
  private readonly pools: readonly Pool[];
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private sweepTask: ScheduledTask | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private readonly inFlight = new Set<number>();
  /**
   * Job kind and request of each running job: another job of the same kind for the same request
   * (a revoke that reconcile queued again while the first still runs) waits for it, so both never
   * act on the backend at once. Jobs of other kinds (a grant and its notifications) run side by side.
   */
  private readonly busy = new Set<string>();
  private drainEvenWhenStopped = false;
  /** A job of this drain made other jobs due: the drain claims once more before it ends. */
  private madeDue = false;

  constructor(private readonly ctx: LatchContext, private readonly handlers: Record<JobKind, JobHandler>, private readonly options: RunnerOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    const batchSize = options.batchSize ?? 100;
    const revokes = options.revokeConcurrency ?? 200;
    this.pools = [
      pool('revoke', ['revoke'], revokes, Math.max(batchSize, revokes)),
      pool('other', JOB_KINDS.filter((kind) => kind !== 'revoke'), options.concurrency ?? 16, batchSize),
    ];
  }

  start(): void {
    this.stopped = false;
    this.sweepTask = schedule(this.options.sweep ?? '*/5 * * * * *', () => this.wake(), { noOverlap: true });
    this.heartbeat = setInterval(() => void this.renewLeases(), Math.max(250, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
    void this.takeOverDeadOwners().finally(() => this.wake());
  }

  /** Claims left by a crashed Latch on this host run now rather than after their lease. */
  private async takeOverDeadOwners(): Promise<void> {
    try {
      for (const owner of await this.ctx.store.jobClaimants()) {
        if (!isDeadLocalOwner(owner, this.options.owner)) continue;
        const taken = await this.ctx.store.endLeases(owner, this.ctx.now());
        if (taken > 0) this.ctx.log.info({ owner, jobs: taken }, `job runner: ${taken} job(s) claimed by ${owner}, which no longer runs, are taken over`);
      }
    } catch (error) {
      this.ctx.log.warn({ err: errorText(error) }, 'job runner: could not look for claims of stopped processes; they return when their lease ends');
    }
  }

  /** Run what is due now and re-arm the timer for what comes next. */
  wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      // A lane to spare picks the new work up now instead of after the busy ones finish.
      for (const each of this.pools) if (each.lanes.size < each.concurrency) this.startLane(each);
      return;
    }
    this.draining = this.drain().catch((error: unknown) => {
      this.ctx.log.error({ err: errorText(error) }, 'job runner: drain failed; the sweep will try again');
    }).finally(() => {
      this.draining = null;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        void this.arm();
      }
    });
  }

  /** Resolves when nothing is running (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /**
   * Stops claiming jobs and lets the running ones finish; jobs claimed but not started are
   * given back at once. After `withinMs` it stops waiting: jobs still running are given back
   * too, and run again after the restart as they would after a crash (their results, if
   * they come, are dropped, since the claim is gone). Resolves true when nothing was cut off.
   */
  async stop(withinMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.stopped = true;
    await this.sweepTask?.stop();
    this.sweepTask = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const finished = await settlesWithin(this.idle(), withinMs);
    for (const each of this.pools) each.queue = [];
    if (!finished) this.ctx.log.warn({ running: [...this.inFlight] }, `job runner: ${this.inFlight.size} job(s) still running at the shutdown deadline; they run again after the restart`);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    await this.ctx.store.releaseJobs(this.options.owner);
    return finished;
  }

  private async arm(): Promise<void> {
    if (this.stopped) return;
    let next: number | null;
    try {
      next = await this.ctx.store.nextJobAt();
    } catch (error) {
      // The store is out of reach for a moment (a PostgreSQL failover, a busy SQLite file): the sweep re-arms.
      this.ctx.log.warn({ err: errorText(error) }, 'job runner: could not read when the next job is due; the sweep will look again');
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (next === null || this.stopped) return;
    const delay = Math.min(Math.max(0, next - this.ctx.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.wake(), delay);
  }

  /** Runs every job due now, and those they make due now, without the timer or sweep (CLI, tests). */
  async runDue(): Promise<void> {
    await this.idle();
    await this.drain(true);
  }

  /**
   * Works off what is due with up to `concurrency` lanes per pool. A lane that finds nothing
   * claimed claims the next batch of its pool itself, so one slow job never holds back the
   * jobs that fell due meanwhile (a grant behind a batch of notifications); the drain ends
   * when every pool's claim finds nothing due and every lane is done, which also covers the
   * jobs the last ones made due (a revoke's notification, claimed by the other pool).
   */
  private async drain(evenWhenStopped = false): Promise<void> {
    this.drainEvenWhenStopped = evenWhenStopped;
    do {
      this.madeDue = false;
      for (const each of this.pools) this.startLane(each);
      for (;;) {
        const lanes = this.pools.flatMap((each) => [...each.lanes]);
        if (lanes.length === 0) break;
        await Promise.all(lanes);
      }
    } while (this.madeDue && (!this.stopped || this.drainEvenWhenStopped));
  }

  private startLane(into: Pool): void {
    // A lane ends on a store failure (a dropped connection): its jobs stay claimed until their
    // lease ends and the sweep claims again. Not every lane is awaited by a drain, so none may reject.
    const lane: Promise<void> = this.lane(into)
      .catch((error: unknown) => this.ctx.log.error({ err: errorText(error), pool: into.name }, 'job runner: a lane stopped on an error; its jobs run again when their lease ends'))
      .finally(() => into.lanes.delete(lane));
    into.lanes.add(lane);
  }

  private async lane(from: Pool): Promise<void> {
    for (;;) {
      // Once stopping, no further claimed job starts: stop() gives the rest back.
      if (this.stopped && !this.drainEvenWhenStopped) return;
      const next = from.queue.findIndex((candidate) => !this.busy.has(busyKey(candidate)));
      if (next < 0) {
        // What is left waits for a job of its kind and request; that job's lane takes it when it finishes.
        if (from.queue.length > 0) return;
        if ((await this.claim(from)) === 0 && from.queue.length === 0) return;
        continue;
      }
      const [job] = from.queue.splice(next, 1) as [Job];
      this.inFlight.add(job.id);
      this.busy.add(busyKey(job));
      from.running += 1;
      let enqueued = false;
      try {
        enqueued = await this.runOne(job);
      } finally {
        from.running -= 1;
        this.inFlight.delete(job.id);
        this.busy.delete(busyKey(job));
      }
      if (enqueued) this.madeDue = true;
      // A pool gone quiet takes up what this job made due (a revoke's notification) now, not after the drain.
      if (enqueued) for (const each of this.pools) if (each.lanes.size === 0) this.startLane(each);
    }
  }

  /**
   * During a mass expiry notifications wait until the revokes are done: thousands of Slack
   * posts on the same event loop would slow every revoke's round trips, and access ending on
   * time matters more than hearing of it a few seconds sooner. Grants and the rest go on.
   */
  private kindsToClaim(from: Pool): readonly JobKind[] {
    const revokes = this.pools[0];
    if (!revokes || from === revokes || revokes.running + revokes.queue.length < MASS_EXPIRY_REVOKES) return from.kinds;
    return from.kinds.filter((kind) => kind !== 'notify');
  }

  /** One claim at a time per pool; lanes that run dry meanwhile wait for it. New work gets lanes up to the pool's `concurrency`. */
  private claim(from: Pool): Promise<number> {
    from.claiming ??= this.ctx.store.claimJobs({ now: this.ctx.now(), limit: from.batchSize, owner: this.options.owner, leaseMs: this.leaseMs, kinds: this.kindsToClaim(from) })
      .then((jobs) => {
        from.queue.push(...jobs);
        // Lanes waiting on this claim take one job each; start more until the batch is covered.
        while (from.lanes.size < from.concurrency && from.lanes.size < from.running + from.queue.length) this.startLane(from);
        return jobs.length;
      })
      .finally(() => {
        from.claiming = null;
      });
    return from.claiming;
  }

  /** Runs one claimed job to its end; true when what it committed enqueued other jobs. */
  private async runOne(job: Job): Promise<boolean> {
    const { store } = this.ctx;
    const owner = this.options.owner;
    const handler = this.handlers[job.kind];
    const log = jobLogger(this.ctx.log, job);
    // A job runs under the config in force when it started, whatever a reload does meanwhile.
    const active = this.ctx.current();
    const jobCtx: LatchContext = { ...this.ctx, current: () => active, log };
    const started = Date.now();
    let outcome;
    try {
      outcome = handler ? await handler(job, jobCtx) : { status: 'bury' as const, error: `no handler for job kind ${job.kind}` };
    } catch (error) {
      // A thrown error is a bug or an unexpected outage: log it with context and retry with backoff.
      log.error({ err: errorText(error) }, 'job failed unexpectedly');
      outcome = { status: 'retry' as const, error: errorText(error) };
    }
    if (outcome.status === 'done') {
      const committed = await store.commit({ ...outcome.change, finishJob: { id: job.id, claimedBy: owner } });
      if (!committed.ok && committed.conflict === 'version') {
        // The request moved under us (a person acted meanwhile): run the job again against the new state.
        await store.retryJob(job.id, owner, this.ctx.now(), 'request changed while the job ran');
        this.again = true;
        return true;
      }
      if (!committed.ok) {
        log.warn({ conflict: committed.conflict }, 'job result dropped: another worker holds the job now');
        return false;
      }
      log.info({ ms: Date.now() - started }, `job ${job.kind} done`);
      return (outcome.change?.enqueue?.length ?? 0) > 0;
    }
    if (outcome.status === 'retry') {
      const committed = outcome.change ? await store.commit(outcome.change) : null;
      const delay = outcome.delayMs ?? backoffDelay(job.attempts);
      log.warn({ retryInMs: delay, err: outcome.error }, 'job will be retried');
      await store.retryJob(job.id, owner, this.ctx.now() + delay, outcome.error);
      return delay <= 0 || (committed?.ok === true && (outcome.change?.enqueue?.length ?? 0) > 0);
    }
    log.error({ err: outcome.error }, 'job abandoned');
    await store.buryJob(job.id, owner, outcome.error, this.ctx.now());
    return false;
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      await this.ctx.store.renewLeases([...this.inFlight], this.options.owner, this.ctx.now() + this.leaseMs);
    } catch (error) {
      this.ctx.log.warn({ err: errorText(error) }, 'could not renew job leases');
    }
  }
}
