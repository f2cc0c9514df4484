import { Counter, Gauge } from 'prom-client';
import { metricsRegistry } from './metrics.js';

export const auditSinkDelivered = new Counter({
  name: 'latch_audit_sink_delivered_total',
  help: 'Audit events each sink acknowledged (an event sent again after a failure counts again).',
  labelNames: ['sink'],
  registers: [metricsRegistry],
});

export const auditSinkFailures = new Counter({
  name: 'latch_audit_sink_failures_total',
  help: 'Deliveries to each audit sink that failed and will be retried.',
  labelNames: ['sink'],
  registers: [metricsRegistry],
});

export interface SinkLag {
  sink: string;
  events: number;
  seconds: number;
  failing: boolean;
}

/** Lag gauges read at scrape time; sinks removed by a reload disappear from them. */
export function registerAuditSinkMetrics(lags: () => Promise<SinkLag[]>): void {
  for (const name of ['latch_audit_sink_lag_events', 'latch_audit_sink_lag_seconds', 'latch_audit_sink_failing']) metricsRegistry.removeSingleMetric(name);
  // The three gauges are collected together; they share one reading.
  let reading: Promise<SinkLag[]> | null = null;
  const read = (): Promise<SinkLag[]> => {
    reading ??= lags().finally(() => setTimeout(() => { reading = null; }, 100));
    return reading;
  };
  const gauge = (name: string, help: string, value: (lag: SinkLag) => number): void => {
    new Gauge({
      name, help, labelNames: ['sink'], registers: [metricsRegistry],
      async collect() {
        const current = await read();
        this.reset();
        for (const lag of current) this.set({ sink: lag.sink }, value(lag));
      },
    });
  };
  gauge('latch_audit_sink_lag_events', 'Audit events recorded that the sink has not acknowledged yet.', (lag) => lag.events);
  gauge('latch_audit_sink_lag_seconds', 'Age of the oldest audit event the sink has not acknowledged yet (0 when caught up).', (lag) => lag.seconds);
  gauge('latch_audit_sink_failing', '1 while deliveries to the sink fail, else 0.', (lag) => (lag.failing ? 1 : 0));
}
