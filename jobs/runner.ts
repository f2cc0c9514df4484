import { schedule, type ScheduledTask } from 'node-cron';
import type { RequestRecord } from '../core/types.js';
import type { LatchContext, Logger } from '../handlers/context.js';
import { JOB_KINDS, type Change, type CommitResult, type Job, type JobClaim, type JobKind } from '../storage/store.js';
import { CommitGatherer } from './commit-gatherer.js';
import { backoffDelay } from './backoff.js';
import { errorText, type JobBatchHandler, type JobHandler, type JobOutcome } from './job-handler.js';
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
  /** Revoke jobs a lane runs together, sharing their reads and commits (with a batch handler for revokes). */
  revokeBatch?: number;
  /** The safety-net sweep, in node-cron syntax with seconds. */
  sweep?: string;
  /** How long after its claim a notification waits at most for its request's grant to finish (see heldForGrant); default 1 s. */
  holdForGrantMs?: number;
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

/** LatchContext.jobsAtOnce for a runner made after the context it runs with. */
export function jobsAtOnceVia(runner: () => JobRunner | null): NonNullable<LatchContext['jobsAtOnce']> {
  return {
    claim: (kind) => runner()?.claimAtOnce(kind) ?? null,
    start: (jobs, known) => runner()?.startClaimed(jobs, known),
    settled: (requestId) => runner()?.settledAtOnce(requestId) ?? Promise.resolve(),
  };
}

/** Lanes for some job kinds, claiming only those: claimed, not yet started jobs wait in `queue`. */
interface Pool {
  readonly name: string;
  readonly kinds: readonly JobKind[];
  /** Jobs running at once at most, and so lanes. */
  readonly concurrency: number;
  readonly batchSize: number;
  /** Jobs of a kind with a batch handler one lane takes at once. */
  readonly together: number;
  queue: Job[];
  readonly lanes: Set<Promise<void>>;
  /** Jobs running now. */
  running: number;
  /** Lanes running jobs now (the others are claiming). */
  busyLanes: number;
  claiming: Promise<number> | null;
}

function pool(name: string, kinds: readonly JobKind[], concurrency: number, batchSize: number, together = 1): Pool {
  return {
    name, kinds, concurrency: Math.max(1, concurrency), batchSize: Math.max(1, batchSize), together: Math.max(1, Math.floor(together)),
    queue: [], lanes: new Set(), running: 0, busyLanes: 0, claiming: null,
  };
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
  /** Wakes the runner when a notification held for a grant may go (heldForGrant). */
  private holdTimer: NodeJS.Timeout | null = null;
  /** Jobs started at once (startClaimed) still running; the wake for the rest waits for them (see startClaimed). */
  private readonly atOnce = new Set<number>();
  /** The request of a job started at once as the commit that claimed it left it, until the job starts. */
  private readonly known = new Map<number, RequestRecord>();
  /** The request of each job started at once, until it ends, and who waits for it (settledAtOnce). */
  private readonly atOnceRequests = new Map<number, string>();
  private readonly atOnceWaiters = new Map<string, (() => void)[]>();
  private atOnceTimer: NodeJS.Timeout | null = null;
  /** A job of this drain made other jobs due: the drain claims once more before it ends. */
  private madeDue = false;

  constructor(
    private readonly ctx: LatchContext,
    private readonly handlers: Record<JobKind, JobHandler>,
    private readonly options: RunnerOptions,
    private readonly batchHandlers: Partial<Record<JobKind, JobBatchHandler>> = {},
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
    const batchSize = options.batchSize ?? 100;
    const revokes = options.revokeConcurrency ?? 200;
    this.pools = [
      pool('revoke', ['revoke'], revokes, Math.max(batchSize, revokes), options.revokeBatch ?? 50),
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

  /**
   * A claim to put on a job a handler is about to commit and someone waits on (the grant an
   * approval makes due), so the commit that enqueues it also claims it and startClaimed runs
   * it at once: no claim of the runner's own (a commit) and no wait for one already under
   * way. Null while stopping or when its pool is full; the job then waits its turn as usual.
   */
  claimAtOnce(kind: JobKind): JobClaim | null {
    const into = this.poolFor(kind);
    if (this.stopped || !into || into.running + into.queue.length >= into.concurrency) return null;
    return { owner: this.options.owner, leaseUntil: this.ctx.now() + this.leaseMs };
  }

  /**
   * Runs jobs a commit inserted claimed for this runner (claimAtOnce), ahead of what its pool
   * has queued, and stands in for the wake after that commit. Only lanes for these jobs start
   * now: the claim of whatever else the commit made due (the approval's notifications) is a
   * commit of its own, an fsync on SQLite that would stall the grant's round trips on the event
   * loop, so it waits until they finish, or `holdForGrantMs` at most.
   */
  startClaimed(jobs: readonly Job[], known?: RequestRecord): void {
    const ours = jobs.filter((job) => job.state === 'running' && job.claimedBy === this.options.owner);
    if (this.stopped) {
      // Stopping: given back at once rather than held until the lease ends.
      for (const job of ours) void this.ctx.store.retryJob(job.id, this.options.owner, this.ctx.now(), 'Latch was stopping when the job was claimed').catch(() => undefined);
      return;
    }
    if (ours.length === 0) {
      this.wake();
      return;
    }
    for (const job of [...ours].reverse()) {
      this.poolFor(job.kind)?.queue.unshift(job);
      this.atOnce.add(job.id);
      if (known && job.requestId === known.request.id) this.known.set(job.id, known);
      if (job.requestId !== null) this.atOnceRequests.set(job.id, job.requestId);
    }
    for (const each of new Set(ours.map((job) => this.poolFor(job.kind)))) if (each && each.lanes.size < each.concurrency) this.startLane(each);
    this.atOnceTimer ??= setTimeout(() => this.atOnceDone(), this.options.holdForGrantMs ?? 1_000);
    this.atOnceTimer.unref();
  }

  /**
   * Resolves when the jobs of this request started at once have ended, or after
   * `holdForGrantMs`; at once when there are none. What an approval sends its approver
   * (the confirmation) waits on it, so it does not take the event loop from the grant's
   * round trips while the grantee waits for credentials.
   */
  settledAtOnce(requestId: string): Promise<void> {
    if (![...this.atOnceRequests.values()].includes(requestId)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.options.holdForGrantMs ?? 1_000);
      timer.unref();
      const waiters = this.atOnceWaiters.get(requestId) ?? [];
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.atOnceWaiters.set(requestId, waiters);
    });
  }

  /** A job started at once has ended: those waiting for its request go on once none of the request's are left. */
  private endAtOnce(jobId: number): void {
    const requestId = this.atOnceRequests.get(jobId);
    if (requestId === undefined) return;
    this.atOnceRequests.delete(jobId);
    if ([...this.atOnceRequests.values()].includes(requestId)) return;
    const waiters = this.atOnceWaiters.get(requestId) ?? [];
    this.atOnceWaiters.delete(requestId);
    for (const waiter of waiters) waiter();
  }

  /** The jobs started at once have finished (or took longer than `holdForGrantMs`): the wake they held back. */
  private atOnceDone(): void {
    this.atOnce.clear();
    if (this.atOnceTimer) clearTimeout(this.atOnceTimer);
    this.atOnceTimer = null;
    this.wake();
  }

  private poolFor(kind: JobKind): Pool | undefined {
    return this.pools.find((each) => each.kinds.includes(kind));
  }

  /** Resolves when nothing is running (tests, graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.draining) {
        await this.draining;
        continue;
      }
      // Lanes of jobs started at once (startClaimed) run outside a drain.
      const lanes = this.pools.flatMap((each) => [...each.lanes]);
      if (lanes.length === 0) return;
      await Promise.all(lanes);
    }
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
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (this.atOnceTimer) clearTimeout(this.atOnceTimer);
    this.atOnceTimer = null;
    this.atOnce.clear();
    const finished = await settlesWithin(this.idle(), withinMs);
    for (const each of this.pools) each.queue = [];
    this.known.clear();
    for (const jobId of [...this.atOnceRequests.keys()]) this.endAtOnce(jobId);
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
      const picked = this.pick(from);
      if (picked.length === 0) {
        // What is left waits for a job of its kind and request (that job's lane takes it when it
        // finishes) or for running jobs to make room.
        if (from.queue.length > 0) return;
        if ((await this.claim(from)) === 0 && from.queue.length === 0) return;
        continue;
      }
      for (const job of picked) {
        this.inFlight.add(job.id);
        this.busy.add(busyKey(job));
      }
      from.running += picked.length;
      from.busyLanes += 1;
      let enqueued = false;
      try {
        const batch = picked.length > 1 ? this.batchHandlers[picked[0]?.kind as JobKind] : undefined;
        enqueued = batch ? await this.runBatch(from, picked, batch) : await this.runOne(picked[0] as Job).finally(() => this.release(from, picked[0] as Job));
      } finally {
        from.busyLanes -= 1;
      }
      if (enqueued) this.madeDue = true;
      // A pool gone quiet takes up what this job made due (a revoke's notification) now, not after the drain.
      if (enqueued) for (const each of this.pools) if (each.lanes.size === 0) this.startLane(each);
    }
  }

  /**
   * The next claimed jobs to run, none of them waiting for a running job of its kind and
   * request: one, or up to the pool's `together` of one kind with a batch handler. A batch
   * starts whole: while the pool has room for fewer jobs than it would hold, it waits for
   * running jobs to make room rather than run in pieces (a mass expiry's batches would
   * otherwise crumble into single jobs as the first ones finish one by one).
   */
  private pick(from: Pool): Job[] {
    const room = from.concurrency - from.running;
    if (room <= 0) return [];
    const picked: number[] = [];
    const keys = new Set<string>();
    let kind: JobKind | null = null;
    let size = 1;
    for (let index = 0; index < from.queue.length && picked.length < size; index += 1) {
      const candidate = from.queue[index] as Job;
      const key = busyKey(candidate);
      if (this.busy.has(key) || keys.has(key) || (kind !== null && candidate.kind !== kind) || this.heldForGrant(candidate)) continue;
      if (kind === null) {
        kind = candidate.kind;
        if (this.batchHandlers[kind]) size = Math.min(from.together, from.concurrency);
      }
      picked.push(index);
      keys.add(key);
    }
    if (picked.length > room) return [];
    const jobs = picked.map((index) => from.queue[index] as Job);
    for (const index of picked.reverse()) from.queue.splice(index, 1);
    return jobs;
  }

  /**
   * A request's notifications wait while its grant runs, for at most `holdForGrantMs` after
   * their claim: the person waiting for credentials gets them before the event loop is spent
   * on telling everyone of the approval (card updates, DMs, App Homes), which then follows.
   * The grant's lane takes them up when it finishes; a timer, when it takes longer.
   */
  private heldForGrant(job: Job): boolean {
    if (job.kind !== 'notify' || job.requestId === null || !this.busy.has(`grant:${job.requestId}`)) return false;
    const until = (job.leaseUntil ?? 0) - this.leaseMs + (this.options.holdForGrantMs ?? 1_000);
    const wait = until - this.ctx.now();
    if (wait <= 0) return false;
    if (!this.holdTimer) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = null;
        this.wake();
      }, wait);
      this.holdTimer.unref();
    }
    return true;
  }

  /** A job settled: it no longer takes room in its pool, nor holds back the next job of its kind and request. */
  private release(from: Pool, job: Job): void {
    from.running -= 1;
    this.inFlight.delete(job.id);
    this.busy.delete(busyKey(job));
    this.endAtOnce(job.id);
    if (this.atOnce.delete(job.id) && this.atOnce.size === 0) this.atOnceDone();
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
        this.coverQueue(from);
        return jobs.length;
      })
      .finally(() => {
        from.claiming = null;
      });
    return from.claiming;
  }

  /** Lanes waiting on a claim take one job (or one batch) each; start more until the queue is covered. */
  private coverQueue(from: Pool): void {
    const wanted = (): number => from.busyLanes + Math.ceil(from.queue.length / from.together);
    while (from.lanes.size < from.concurrency && from.lanes.size < wanted() && from.running < from.concurrency) this.startLane(from);
  }

  /** The runner's context for a job: the config in force when it started, whatever a reload does meanwhile. */
  private jobContext(log: Logger): LatchContext {
    const active = this.ctx.current();
    return { ...this.ctx, current: () => active, log };
  }

  /** Runs one claimed job to its end; true when what it committed enqueued other jobs. */
  private async runOne(job: Job): Promise<boolean> {
    const handler = this.handlers[job.kind];
    const log = jobLogger(this.ctx.log, job);
    const started = Date.now();
    const known = this.known.get(job.id);
    this.known.delete(job.id);
    let outcome: JobOutcome;
    try {
      outcome = handler ? await handler(job, this.jobContext(log), known) : { status: 'bury' as const, error: `no handler for job kind ${job.kind}` };
    } catch (error) {
      outcome = this.thrown(log, error);
    }
    const committed = outcome.status === 'done' ? this.ctx.store.commit(this.finishing(job, outcome)) : null;
    const enqueued = await this.settle(job, outcome, committed, log);
    if (outcome.status === 'done' && committed && (await committed).ok) log.info({ ms: Date.now() - started }, `job ${job.kind} done`);
    return enqueued;
  }

  /**
   * Runs claimed jobs of one kind together through their batch handler. Each job is settled as
   * soon as its outcome comes; the results that come in the same moment (a backend batch's)
   * are committed together, one transaction for many. One log line for the batch, and one
   * for each job that did not end done.
   */
  private async runBatch(from: Pool, jobs: readonly Job[], handler: JobBatchHandler): Promise<boolean> {
    const [first] = jobs;
    const log = this.ctx.log;
    const started = Date.now();
    // A batch handler reads its jobs' requests together.
    for (const job of jobs) this.known.delete(job.id);
    let outcomes: Promise<JobOutcome>[];
    try {
      outcomes = handler(jobs, this.jobContext(log));
    } catch (error) {
      outcomes = jobs.map(() => Promise.reject(error));
    }
    const finishes = new CommitGatherer(this.ctx.store);
    let done = 0;
    const enqueued = await Promise.all(jobs.map(async (job, index) => {
      const jobLog = jobLogger(log, job);
      try {
        let outcome: JobOutcome;
        try {
          outcome = (await outcomes[index]) ?? { status: 'retry', error: 'the batch gave this job no outcome' };
        } catch (error) {
          outcome = this.thrown(jobLog, error);
        }
        const committed = outcome.status === 'done' ? finishes.commit(this.finishing(job, outcome)) : null;
        const made = await this.settle(job, outcome, committed, jobLog);
        if (outcome.status === 'done' && committed && (await committed).ok) done += 1;
        return made;
      } finally {
        this.release(from, job);
        // Room for another job: a lane of its own takes it while this batch's slow jobs run on.
        if (from.queue.length > 0 && !this.stopped) this.coverQueue(from);
      }
    }));
    log.info({ kind: first?.kind, jobs: jobs.length, done, requestIds: jobs.map((job) => job.requestId), ms: Date.now() - started }, `${done} of ${jobs.length} ${first?.kind ?? ''} jobs done together`);
    return enqueued.some(Boolean);
  }

  /** A thrown error is a bug or an unexpected outage: logged with context, and retried with backoff. */
  private thrown(log: Logger, error: unknown): JobOutcome {
    log.error({ err: errorText(error) }, 'job failed unexpectedly');
    return { status: 'retry', error: errorText(error) };
  }

  private finishing(job: Job, outcome: Extract<JobOutcome, { status: 'done' }>): Change {
    return { ...outcome.change, finishJob: { id: job.id, claimedBy: this.options.owner } };
  }

  /** Records a job's outcome (a done job's `committed` commit is under way); true when it made other jobs due. */
  private async settle(job: Job, outcome: JobOutcome, committing: Promise<CommitResult> | null, log: Logger): Promise<boolean> {
    const { store } = this.ctx;
    const owner = this.options.owner;
    if (outcome.status === 'done') {
      const committed = await (committing ?? store.commit(this.finishing(job, outcome)));
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

  /**
   * Claimed jobs still waiting in a pool's queue (behind a busy lane, a job of their request,
   * or a batch that starts whole) hold their claims as well: a lapsed lease would let another
   * Latch claim one this one is about to run, and both would run it.
   */
  private async renewLeases(): Promise<void> {
    const ids = [...this.inFlight, ...this.pools.flatMap((each) => each.queue.map((job) => job.id))];
    if (ids.length === 0) return;
    try {
      await this.ctx.store.renewLeases(ids, this.options.owner, this.ctx.now() + this.leaseMs);
    } catch (error) {
      this.ctx.log.warn({ err: errorText(error) }, 'could not renew job leases');
    }
  }
}
