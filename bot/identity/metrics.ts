import { Gauge } from 'prom-client';
import { metricsRegistry } from '../../jobs/metrics.js';
import type { SourceHealth } from './sources.js';

/** Each identity source's last successful sync and size, read at scrape time. */
export function registerIdentitySourceMetrics(health: () => Promise<SourceHealth[]>): void {
  for (const name of ['latch_identity_source_last_success_timestamp_seconds', 'latch_identity_source_people', 'latch_identity_source_held']) metricsRegistry.removeSingleMetric(name);
  const gauge = (name: string, help: string, value: (source: SourceHealth) => number): void => {
    new Gauge({
      name, help, labelNames: ['source', 'type'], registers: [metricsRegistry],
      async collect() {
        const sources = await health();
        this.reset();
        for (const source of sources) this.set({ source: source.source, type: source.type }, value(source));
      },
    });
  };
  gauge('latch_identity_source_last_success_timestamp_seconds', 'When the identity source last synced (or was pushed to) successfully, in Unix seconds; 0 never.', (source) => (source.lastSuccessAt ? Date.parse(source.lastSuccessAt) / 1000 : 0));
  gauge('latch_identity_source_people', 'People the identity source reported in its last applied snapshot (leavers included).', (source) => source.people);
  gauge('latch_identity_source_held', '1 while a sync answer is held for disabling too many people at once, else 0.', (source) => (source.held ? 1 : 0));
}
