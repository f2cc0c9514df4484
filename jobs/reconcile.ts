import type { Integration } from '../config/schema.js';
import { HOLDS_ACCESS } from '../core/lifecycle.js';
import type { AccessRequest, Grant, Instant } from '../core/types.js';
import type { LatchContext } from '../handlers/context.js';
import { revokeJob } from '../handlers/jobs.js';
import type { ManagedPrincipal, Provisioner } from '../provisioners/provisioner.js';
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
  /** Principals removed because their grant had ended or was unknown to the store, or their retention ran out. */
  removed: string[];
  /**
   * Principals of ended grants that reconcile found still in place and, the integration
   * keeping revoked principals, locked and stripped rather than dropped (a backend that
   * cannot keep a principal, such as an existing role, just takes the access away).
   */
  retained: string[];
  /** Overdue grants whose revoke was queued again. */
  requeued: string[];
  /** Principals with Latch's prefix but no Latch marker: reported, never touched. */
  unknown: string[];
  /**
   * Active grants whose principal is gone from the backend (dropped behind Latch's back): the
   * first `MISSING_NAMED` of them; `missingCount` says how many there are in all.
   */
  missing: string[];
  missingCount: number;
  error?: string;
}

/**
 * Grants read from the store at once: reconcile holds a page of them, never the whole store.
 * Small on purpose: a page still in use when the young generation is scavenged moves to the
 * old one, and with 1,000 a page that garbage kept the RSS 10 to 60 MB higher after a
 * reconcile of 100,000 grants, varying from run to run.
 */
export const RECONCILE_PAGE_SIZE = 200;

/**
 * Missing principals named in a report (its audit event, its log line). A backend restored
 * from an old backup can miss every principal; the event stays one of bounded size, and
 * the store's grants name the rest.
 */
export const MISSING_NAMED = 100;

type Known = { grant: Grant; request: AccessRequest };

function ended({ grant, request }: Known): boolean {
  return !HOLDS_ACCESS.includes(request.state) || grant.state === 'revoked';
}

/**
 * Until when a principal of an ended grant is kept, when the integration keeps revoked
 * principals: counted from when the access ended (the grant's revoke, else the request's
 * end), not from now, so a principal that comes back (a restore, a revoke that claimed
 * success) is not given a fresh full retention. Null when nothing is to be kept: no
 * retention configured, or a grant that was never delivered (a failed grant made nothing
 * anyone could build on, and the revoke job does not keep those either).
 */
export function retentionEnd(integration: Integration, { grant, request }: Known, now: Instant): Instant | null {
  if (integration.retainRevoked === undefined || grant.grantedAt === null) return null;
  return (grant.revokedAt ?? request.endedAt ?? now) + integration.retainRevoked;
}

/**
 * Compares each backend with the store: what Latch believes is granted against what the
 * backend holds. Fixes what is Latch's own to fix and reports the rest. A principal kept
 * after its revoke (`retainedUntil`) is Latch's plan, not drift: it is left alone until that
 * instant and dropped after it.
 */
/** Latch's own store failed, not the backend: the job retries and the integration's health is left as it was. */
class StoreReadFailed extends Error {}

function fromStore<T>(work: Promise<T>): Promise<T> {
  return work.catch((error: unknown) => {
    throw new StoreReadFailed(`reading Latch's store failed: ${errorText(error)}`, { cause: error });
  });
}

export async function reconcile(ctx: LatchContext, options: { pageSize?: number; missingNamed?: number } = {}): Promise<{ reports: ReconcileReport[]; audit: AuditInput[]; enqueue: NewJob[] }> {
  const pageSize = options.pageSize ?? RECONCILE_PAGE_SIZE;
  const named = options.missingNamed ?? MISSING_NAMED;
  const { config } = ctx.current();
  const now = ctx.now();
  const reports: ReconcileReport[] = [];
  const audit: AuditInput[] = [];
  const enqueue: NewJob[] = [];
  for (const integration of config.integrations) {
    if (!ctx.provisioners.supports(integration)) continue;
    const report: ReconcileReport = { integration: integration.name, removed: [], retained: [], requeued: [], unknown: [], missing: [], missingCount: 0 };
    reports.push(report);
    // Only grants of principals the backend holds are kept; the others can only be missing,
    // and are counted as the pages go by.
    const vanished: string[] = [];
    let vanishedCount = 0;
    try {
      const provisioner = ctx.provisioners.for(integration);
      const managed = await provisioner.listManaged(integration);
      const present = new Set(managed.map((entry) => entry.principal));
      const byPrincipal = new Map<string, Known>();
      for (let afterId: string | null = null; ;) {
        const page: Known[] = await fromStore(ctx.store.grantsWithPrincipalPage(integration.name, afterId, pageSize));
        for (const entry of page) {
          const principal = entry.grant.principal ?? '';
          if (present.has(principal)) {
            // Several grants can share one principal (a person's existing role): the one that
            // still holds access speaks for it, or an ended grant would take away what it needs.
            const seen = byPrincipal.get(principal);
            if (!seen || ended(seen)) byPrincipal.set(principal, entry);
          } else if (provisioner.listsGrants !== false && principal && entry.request.state === 'active' && entry.grant.state === 'active') {
            vanishedCount += 1;
            if (vanished.length < named) vanished.push(principal);
          }
        }
        const last = page.at(-1);
        if (page.length < pageSize || !last) break;
        afterId = last.grant.id;
      }
      for (const entry of managed) {
        const known = byPrincipal.get(entry.principal);
        const retainedUntil = entry.retainedUntil ?? null;
        if (retainedUntil !== null && (!known || ended(known))) {
          if (retainedUntil > now) continue;
          if (await dropPrincipal(ctx, provisioner, integration, entry, known)) report.removed.push(entry.principal);
          else report.unknown.push(entry.principal);
          continue;
        }
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
        if (ended(known)) {
          // The store says this access ended; the backend still has it. Take it away.
          const record = await fromStore(ctx.store.getRequest(request.id));
          if (!record) continue;
          const input = grantInput(ctx, record, grant);
          const retainUntil = retentionEnd(integration, known, now);
          if (retainUntil !== null && retainUntil > now) {
            await provisioner.revoke({ ...input, retainUntil });
            report.retained.push(entry.principal);
          } else {
            await provisioner.revoke(input);
            report.removed.push(entry.principal);
          }
        } else if (request.state === 'active' && request.expiresAt !== null && request.expiresAt <= now) {
          enqueue.push(revokeJob(request.id, now, 'expired', `reconcile-${now}`));
          report.requeued.push(entry.principal);
        } else if (retainedUntil !== null && request.state === 'active' && grant.state === 'active') {
          // Locked and stripped behind Latch's back while the access should be there.
          report.missing.push(entry.principal);
          report.missingCount += 1;
        }
      }
      const health = provisioner.checkHealth ? await provisioner.checkHealth() : { ok: true, checks: [] };
      const failed = health.checks.filter((check) => !check.ok).map((check) => check.detail ?? check.name);
      recordIntegrationStatus(integration.name, { ok: health.ok, detail: failed.join('; ') || null, at: now });
    } catch (error) {
      if (error instanceof StoreReadFailed) throw error;
      report.error = errorText(error);
      recordIntegrationStatus(integration.name, { ok: false, detail: report.error, at: now });
    }
    report.missing = [...report.missing, ...vanished].slice(0, named);
    report.missingCount += vanishedCount;
    const changed = report.removed.length + report.retained.length + report.requeued.length + report.unknown.length + report.missingCount > 0 || report.error;
    if (changed) audit.push({ type: 'reconcile.report', requestId: null, actor: 'latch', at: now, data: { ...report } });
    if (report.unknown.length > 0 || report.missingCount > 0) {
      ctx.log.warn({ ...report }, `reconcile found drift in ${integration.name}: ${report.unknown.length} unknown principal(s), ${report.missingCount} missing`);
    }
  }
  return { reports, audit, enqueue };
}

/**
 * Drops a principal whose retention ran out: through its grant when the store still knows
 * it (the provisioner then checks the principal carries that grant), else as an orphan.
 * False when the provisioner can do neither.
 */
async function dropPrincipal(ctx: LatchContext, provisioner: Provisioner, integration: Integration, entry: ManagedPrincipal, known: Known | undefined): Promise<boolean> {
  const record = known ? await ctx.store.getRequest(known.request.id) : null;
  if (record && known) {
    let input: ReturnType<typeof grantInput> | null = null;
    try {
      input = grantInput(ctx, record, known.grant);
    } catch {
      // The resource left the config; the principal can still go as an orphan.
    }
    if (input) {
      await provisioner.revoke(input);
      return true;
    }
  }
  if (!provisioner.removeOrphan) return false;
  await provisioner.removeOrphan(integration, entry.principal);
  return true;
}

/** Runs at start-up and then every 15 minutes. */
export const runReconcile: JobHandler = async (_job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const { audit, enqueue } = await reconcile(ctx);
  return { status: 'done', change: { audit, enqueue: [...enqueue, reconcileJob(ctx.now() + RECONCILE_INTERVAL_MS)] } };
};
