import type { Provisioner, RevokeInput } from './provisioner.js';

export interface RevokeBatcherOptions {
  /** Revokes handed to the backend in one call at most. */
  maxBatch?: number;
  /** How long the first revoke of a batch waits for others to join it. */
  windowMs?: number;
  /** Revokes one at a time (no `revokeMany`, or kept principals) running at once at most. */
  maxSingle?: number;
}

interface Waiting {
  input: RevokeInput;
  resolve: () => void;
  reject: (error: Error) => void;
}

// The runner's revoke lanes (jobs/runner.ts) hand over up to 200 revokes at once: batches of
// 100 cost PostgreSQL one cut-off statement each and keep two of them in flight.
const DEFAULT_MAX_BATCH = 100;
const DEFAULT_WINDOW_MS = 5;
/**
 * The job runner starts hundreds of revokes at once in a mass expiry; a backend without
 * batches (a command spawning a process per revoke, a webhook, a cloud API with rate limits)
 * gets them this many at a time instead of all together.
 */
const DEFAULT_MAX_SINGLE = 16;

/**
 * Lets revokes that arrive together share one backend call. When many grants expire in the
 * same second the job runner works on them side by side, each job asking for its own revoke;
 * here those calls meet and go to `revokeMany` as one batch (one transaction per batch on
 * PostgreSQL), while every job still waits for, and reports, the result of its own grant.
 * A lone revoke waits `windowMs` at most, which is small beside the revoke itself.
 *
 * Revokes that keep the principal (`retainUntil`) take the single path: they are rare, and
 * a batch is the place to drop principals, not to keep them.
 */
export class RevokeBatcher {
  private readonly maxBatch: number;
  private readonly windowMs: number;
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly maxSingle: number;
  private singleRunning = 0;
  private readonly singleWaiting: (() => void)[] = [];

  constructor(private readonly provisioner: Provisioner, options: RevokeBatcherOptions = {}) {
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? DEFAULT_MAX_BATCH));
    this.windowMs = Math.max(0, options.windowMs ?? DEFAULT_WINDOW_MS);
    this.maxSingle = Math.max(1, Math.floor(options.maxSingle ?? DEFAULT_MAX_SINGLE));
  }

  revoke(input: RevokeInput): Promise<void> {
    if (!this.provisioner.revokeMany || input.retainUntil !== undefined) return this.single(input);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (this.waiting.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private async single(input: RevokeInput): Promise<void> {
    // A finished revoke hands its place straight to the next in line, so none slips in between.
    if (this.singleRunning >= this.maxSingle) await new Promise<void>((turn) => this.singleWaiting.push(turn));
    else this.singleRunning += 1;
    try {
      await this.provisioner.revoke(input);
    } finally {
      const next = this.singleWaiting.shift();
      if (next) next();
      else this.singleRunning -= 1;
    }
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length > 0) void this.send(batch);
  }

  private async send(batch: Waiting[]): Promise<void> {
    const revokeMany = this.provisioner.revokeMany?.bind(this.provisioner);
    try {
      if (!revokeMany) throw new Error('the provisioner lost its revokeMany');
      const results = await revokeMany(batch.map((entry) => entry.input), { batchSize: this.maxBatch });
      batch.forEach((entry, index) => {
        const result = results[index];
        if (result?.ok) entry.resolve();
        else entry.reject(new Error(result && !result.ok ? result.error : 'the backend gave no result for this revoke'));
      });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of batch) entry.reject(failure);
    }
  }
}
