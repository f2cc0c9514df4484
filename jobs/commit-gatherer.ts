import type { Change, CommitResult, Store } from '../storage/store.js';

/**
 * Gathers the commits asked for in one event-loop turn and hands them to the store together
 * (`commitEach`): the jobs of a backend batch finish in the same turn, and their results then
 * share one transaction instead of one each. Each caller still gets its own change's result.
 */
export class CommitGatherer {
  private waiting: { change: Change; resolve: (result: CommitResult) => void; reject: (error: unknown) => void }[] = [];

  constructor(private readonly store: Store) {}

  commit(change: Change): Promise<CommitResult> {
    return new Promise<CommitResult>((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ change, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    const results = this.store.commitEach(batch.map((entry) => entry.change));
    batch.forEach((entry, index) => {
      const result = results[index] ?? Promise.reject(new Error('the store gave no result for a commit'));
      result.then(entry.resolve, entry.reject);
    });
  }
}
