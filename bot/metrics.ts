import { Gauge } from 'prom-client';
import { REQUEST_STATES } from '../core/lifecycle.js';
import { metricsRegistry } from '../jobs/metrics.js';
import type { Store, StoreStats } from '../storage/store.js';

/** Gauges read from the store at scrape time, so every instance reports the same truth. */
export function registerStoreMetrics(store: Store): void {
  // prom-client collects every gauge at once; they share one read of the store per scrape.
  let reading: Promise<StoreStats> | null = null;
  const stats = (): Promise<StoreStats> => {
    reading ??= store.stats().finally(() => setTimeout(() => { reading = null; }, 100));
    return reading;
  };
  metricsRegistry.removeSingleMetric('latch_requests');
  metricsRegistry.removeSingleMetric('latch_grants_active');
  metricsRegistry.removeSingleMetric('latch_jobs');
  new Gauge({
    name: 'latch_requests', help: 'Requests by life-cycle state.', labelNames: ['state'], registers: [metricsRegistry],
    async collect() {
      const { requestsByState } = await stats();
      for (const state of REQUEST_STATES) this.set({ state }, requestsByState[state] ?? 0);
    },
  });
  new Gauge({
    name: 'latch_grants_active', help: 'Grants currently held in backends.', registers: [metricsRegistry],
    async collect() { this.set((await stats()).activeGrants); },
  });
  new Gauge({
    name: 'latch_jobs', help: 'Outbox jobs by state (dead = abandoned after its attempts).', labelNames: ['state'], registers: [metricsRegistry],
    async collect() {
      const { jobsPending, jobsRunning, jobsDead } = await stats();
      this.set({ state: 'pending' }, jobsPending);
      this.set({ state: 'running' }, jobsRunning);
      this.set({ state: 'failed' }, jobsDead);
    },
  });
}
