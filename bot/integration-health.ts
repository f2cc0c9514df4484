import type { LatchContext } from '../handlers/context.js';
import { lastProvisionMs } from '../jobs/metrics.js';
import type { HealthCheck } from '../provisioners/provisioner.js';

export interface IntegrationHealth {
  integration: string;
  type: string;
  ok: boolean;
  checks: HealthCheck[];
  lastGrantMs: number | null;
  lastRevokeMs: number | null;
}

const HEALTH_TIMEOUT_MS = 5_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return Promise.race([work, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms).unref())]);
}

/** Each integration's health: can Latch provision there at all, and how fast it last did. */
export async function integrationsHealth(ctx: Pick<LatchContext, 'current' | 'provisioners'>): Promise<IntegrationHealth[]> {
  const { config } = ctx.current();
  return Promise.all(config.integrations.map(async (integration): Promise<IntegrationHealth> => {
    const timings = lastProvisionMs.get(integration.name);
    const base = { integration: integration.name, type: integration.type, lastGrantMs: timings?.grant ?? null, lastRevokeMs: timings?.revoke ?? null };
    if (!ctx.provisioners.supports(integration)) {
      return { ...base, ok: false, checks: [{ name: 'provisioner', ok: false, detail: `type ${integration.type} cannot be provisioned by this build` }] };
    }
    try {
      const provisioner = ctx.provisioners.for(integration);
      if (!provisioner.checkHealth) return { ...base, ok: true, checks: [{ name: 'provisioner', ok: true, detail: 'no health check for this type' }] };
      const report = await withTimeout(provisioner.checkHealth(), HEALTH_TIMEOUT_MS);
      return { ...base, ok: report.ok, checks: report.checks };
    } catch (error) {
      return { ...base, ok: false, checks: [{ name: 'connect', ok: false, detail: error instanceof Error ? error.message : String(error) }] };
    }
  }));
}
