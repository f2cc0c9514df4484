import { Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();

export const provisionDuration = new Histogram({
  name: 'latch_provision_seconds',
  help: 'How long grants and revokes took in each integration.',
  labelNames: ['integration', 'operation'],
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
  registers: [metricsRegistry],
});

/** The last grant and revoke duration per integration, for the health report. */
export const lastProvisionMs = new Map<string, { grant?: number; revoke?: number }>();

export function recordProvision(integration: string, operation: 'grant' | 'revoke', ms: number): void {
  provisionDuration.observe({ integration, operation }, ms / 1000);
  lastProvisionMs.set(integration, { ...lastProvisionMs.get(integration), [operation]: ms });
}

export const revocationLag = new Histogram({
  name: 'latch_revocation_lag_seconds',
  help: 'Time from the expiry instant to the moment every grant of the request was revoked.',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [metricsRegistry],
});
