import { Gauge } from 'prom-client';
import { REQUEST_STATES } from '../core/lifecycle.js';
import { metricsRegistry } from '../jobs/metrics.js';
import type { Store } from '../storage/store.js';

/** Gauges read from the store at scrape time, so every instance reports the same truth. */
export function registerStoreMetrics(store: Store): void {
  let last: Awaited<ReturnType<Store['stats']>> | null = null;
  const refresh = async (): Promise<NonNullable<typeof last>> => {
    last = await store.stats();
    return last;
  };
  metricsRegistry.removeSingleMetric('latch_requests');
  metricsRegistry.removeSingleMetric('latch_grants_active');
  metricsRegistry.removeSingleMetric('latch_jobs');
  new Gauge({
    name: 'latch_requests', help: 'Requests by life-cycle state.', labelNames: ['state'], registers: [metricsRegistry],
    async collect() {
      const stats = await refresh();
      for (const state of REQUEST_STATES) this.set({ state }, stats.requestsByState[state] ?? 0);
    },
  });
  new Gauge({
    name: 'latch_grants_active', help: 'Grants currently held in backends.', registers: [metricsRegistry],
    collect() { this.set(last?.activeGrants ?? 0); },
  });
  new Gauge({
    name: 'latch_jobs', help: 'Outbox jobs by state (dead = abandoned after its attempts).', labelNames: ['state'], registers: [metricsRegistry],
    collect() {
      this.set({ state: 'pending' }, last?.jobsPending ?? 0);
      this.set({ state: 'running' }, last?.jobsRunning ?? 0);
      this.set({ state: 'failed' }, last?.jobsDead ?? 0);
    },
  });
}
