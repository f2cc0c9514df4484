import type { App, ReceiverEvent } from '@slack/bolt';

/**
 * Work the process has accepted and not finished: HTTP requests being answered, and chat
 * work that goes on after the platform was acknowledged. Shutdown waits for it before it
 * closes the store, so nothing a person was told "got it" about is cut off half-way.
 */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.count;
  }

  /** Counts one piece of work until the returned function is called (calling it twice is harmless). */
  begin(): () => void {
    this.count += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.count -= 1;
      if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }

  track<T>(work: Promise<T>): Promise<T> {
    const end = this.begin();
    return work.finally(end);
  }

  /** Resolves true once nothing is in flight, or false when `withinMs` ran out first. */
  settled(withinMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, withinMs));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/**
 * Slack is acknowledged within 3 s and Bolt runs the listener on after the HTTP answer has
 * gone, so the HTTP request alone does not say when that work ends: count each event until
 * its listener returns.
 */
export function trackSlackEvents(app: App, work: InFlight): void {
  const processEvent = app.processEvent.bind(app);
  app.processEvent = (event: ReceiverEvent): Promise<void> => work.track(processEvent(event));
}
