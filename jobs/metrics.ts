import { Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();

export const revocationLag = new Histogram({
  name: 'latch_revocation_lag_seconds',
  help: 'Time from the expiry instant to the moment every grant of the request was revoked.',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [metricsRegistry],
});
