import { HOLDS_ACCESS } from '../core/lifecycle.js';
import type { LatchContext } from '../handlers/context.js';
import { revokeJob } from '../handlers/jobs.js';
import type { AuditInput, Job, NewJob } from '../storage/store.js';
import { grantInput } from './grant.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';
import { recordIntegrationStatus } from '../handlers/integration-status.js';

export const RECONCILE_INTERVAL_MS = 15 * 60_000;

/** The periodic reconcile; `startup` gives the one queued at start-up a key of its own. */
export function reconcileJob(at: number, startup = false): NewJob {
  return { kind: 'reconcile', requestId: null, runAt: at, dedupeKey: startup ? `reconcile:start:${at}:${Math.random().toString(36).slice(2)}` : `reconcile:${Math.floor(at / RECONCILE_INTERVAL_MS)}` };
}

export interface ReconcileReport {
  integration: string;
  /** Principals removed because their grant had ended or was unknown to the store. */
  removed: string[];
  /** Overdue grants whose revoke was queued again. */
  requeued: string[];
  /** Principals with Latch's prefix but no Latch marker: reported, never touched. */
  unknown: string[];
  /** Active grants whose principal is gone from the backend (dropped behind Latch's back). */
  missing: string[];
  error?: string;
}

/**
 * Compares each backend with the store: what Latch believes is granted against what the
 * backend holds. Fixes what is Latch's own to fix and reports the rest.
 */
export async function reconcile(ctx: LatchContext): Promise<{ reports: ReconcileReport[]; audit: AuditInput[]; enqueue: NewJob[] }> {
  const { config } = ctx.current();
  const now = ctx.now();
  const reports: ReconcileReport[] = [];
  const audit: AuditInput[] = [];
  const enqueue: NewJob[] = [];
  for (const integration of config.integrations) {
    if (!ctx.provisioners.supports(integration)) continue;
    const report: ReconcileReport = { integration: integration.name, removed: [], requeued: [], unknown: [], missing: [] };
    reports.push(report);
    try {
      const provisioner = ctx.provisioners.for(integration);
      const [managed, grants] = await Promise.all([provisioner.listManaged(integration), ctx.store.grantsWithPrincipal(integration.name)]);
      const byPrincipal = new Map(grants.map((entry) => [entry.grant.principal ?? '', entry]));
      const present = new Set(managed.map((entry) => entry.principal));
      for (const entry of managed) {
        const known = byPrincipal.get(entry.principal);
        if (!known) {
          if (entry.reference === null) {
            report.unknown.push(entry.principal);
            continue;
          }
          if (provisioner.removeOrphan) {
            await provisioner.removeOrphan(integration, entry.principal);
            report.removed.push(entry.principal);
          } else {
            report.unknown.push(entry.principal);
          }
          continue;
        }
        const { grant, request } = known;
        if (!HOLDS_ACCESS.includes(request.state) || grant.state === 'revoked') {
          // The store says this access ended; the backend still has it. Take it away.
          const record = await ctx.store.getRequest(request.id);
          if (!record) continue;
          await provisioner.revoke(grantInput(ctx, record, grant));
          report.removed.push(entry.principal);
        } else if (request.state === 'active' && request.expiresAt !== null && request.expiresAt <= now) {
          enqueue.push(revokeJob(request.id, now, 'expired', `reconcile-${now}`));
          report.requeued.push(entry.principal);
        }
      }
      for (const { grant, request } of grants) {
        if (request.state === 'active' && grant.state === 'active' && grant.principal && !present.has(grant.principal)) report.missing.push(grant.principal);
      }
      const health = provisioner.checkHealth ? await provisioner.checkHealth() : { ok: true, checks: [] };
      const failed = health.checks.filter((check) => !check.ok).map((check) => check.detail ?? check.name);
      recordIntegrationStatus(integration.name, { ok: health.ok, detail: failed.join('; ') || null, at: now });
    } catch (error) {
      report.error = errorText(error);
      recordIntegrationStatus(integration.name, { ok: false, detail: report.error, at: now });
    }
    const changed = report.removed.length + report.requeued.length + report.unknown.length + report.missing.length > 0 || report.error;
    if (changed) audit.push({ type: 'reconcile.report', requestId: null, actor: 'latch', at: now, data: { ...report } });
    if (report.unknown.length > 0 || report.missing.length > 0) {
      ctx.log.warn({ ...report }, `reconcile found drift in ${integration.name}: ${report.unknown.length} unknown principal(s), ${report.missing.length} missing`);
    }
  }
  return { reports, audit, enqueue };
}

/** Runs at start-up and then every 15 minutes. */
export const runReconcile: JobHandler = async (_job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const { audit, enqueue } = await reconcile(ctx);
  return { status: 'done', change: { audit, enqueue: [...enqueue, reconcileJob(ctx.now() + RECONCILE_INTERVAL_MS)] } };
};
