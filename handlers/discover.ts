// One access-discovery scan: every integration in scope is read by its scanner, the sample
// of who is connected is kept, the history of samples decides active or dormant, and the
// core scores and ranks. Used by the CLI, `/access discover` and the weekly digest job.
import type { Integration, LatchConfig } from '../config/schema.js';
import { changesBetween, rankPrincipals, type ScanChange, type ScannedPrincipal, type ScoredPrincipal } from '../core/discovery.js';
import type { Instant } from '../core/types.js';
import { scanAwsIam, type IamScanOptions } from '../provisioners/discovery/aws-iam-scan.js';
import { scanMysql } from '../provisioners/discovery/mysql-scan.js';
import { scanPostgres } from '../provisioners/discovery/postgres-scan.js';
import type { ProvisionerRegistry } from '../provisioners/registry.js';
import type { DiscoveryStore } from '../storage/discovery-store.js';

export const SCANNED_TYPES = ['postgresql', 'mysql', 'aws-iam-role'] as const;

export interface IntegrationScanOutcome {
  integration: string;
  type: string;
  ok: boolean;
  error?: string;
  principals: number;
  /** Databases or accounts the connector could not look into, with why. */
  skipped: string[];
  /** The connector, never scored: it is Latch's own login. */
  connector?: string;
  /** pg_stat_database, where the backend has it. */
  databases?: { database: string; backends: number; commits: number; statsReset: string | null }[];
}

export interface DiscoveryReport {
  scannedAt: Instant;
  dormantAfterMs: number;
  integrations: IntegrationScanOutcome[];
  principals: ScoredPrincipal[];
  /** Compared with the scan before this one; null when this is the first. */
  changes: ScanChange[] | null;
  previousScanAt: Instant | null;
}

export interface DiscoverOptions {
  config: LatchConfig;
  env: NodeJS.ProcessEnv;
  now: Instant;
  /** To ask each provisioner which principals it manages (never reported). */
  provisioners?: ProvisionerRegistry;
  store?: DiscoveryStore;
  /** Only these integrations; default: config.discovery.integrations, else every scannable one. */
  only?: readonly string[];
  /** AWS clients and region overrides for IAM scans (tests point them at nock). */
  iam?: Partial<IamScanOptions>;
  /** Store the scan's scores for the next comparison (the CLI and the digest do; a chat look does not). */
  recordScan?: boolean;
}

export class DiscoveryInputError extends Error {
  override name = 'DiscoveryInputError';
}

/** The integrations a scan covers, or a sentence naming the one that does not exist or cannot be scanned. */
export function integrationsInScope(config: LatchConfig, only?: readonly string[]): Integration[] {
  const names = only && only.length > 0 ? only : config.discovery.integrations;
  const scannable = (integration: Integration): boolean => (SCANNED_TYPES as readonly string[]).includes(integration.type);
  if (!names) return config.integrations.filter(scannable);
  return names.map((name) => {
    const integration = config.integrations.find((candidate) => candidate.name === name);
    if (!integration) throw new DiscoveryInputError(`there is no integration "${name}" in the config (integrations: ${config.integrations.map((i) => i.name).join(', ') || 'none'})`);
    if (!scannable(integration)) throw new DiscoveryInputError(`integration "${name}" has type ${integration.type}; discovery scans ${SCANNED_TYPES.join(', ')} integrations`);
    return integration;
  });
}

async function managedBy(integration: Integration, provisioners: ProvisionerRegistry | undefined): Promise<Set<string>> {
  if (!provisioners || !provisioners.supports(integration)) return new Set();
  try {
    return new Set((await provisioners.for(integration).listManaged(integration)).map((managed) => managed.principal));
  } catch {
    // The instance prefix still recognises Latch's principals when listing them fails.
    return new Set();
  }
}

async function scanOne(integration: Integration, options: DiscoverOptions): Promise<{ outcome: IntegrationScanOutcome; principals: ScannedPrincipal[]; sessions: Map<string, number> | null }> {
  const managed = await managedBy(integration, options.provisioners);
  const instance = options.config.settings.instance;
  if (integration.type === 'postgresql') {
    const scan = await scanPostgres(integration, { env: options.env, instance, managed });
    return { outcome: { integration: integration.name, type: integration.type, ok: true, principals: scan.principals.length, skipped: scan.skipped, connector: scan.connector, databases: scan.databases }, principals: scan.principals, sessions: scan.sessions };
  }
  if (integration.type === 'mysql') {
    const scan = await scanMysql(integration, { env: options.env, instance, managed });
    return { outcome: { integration: integration.name, type: integration.type, ok: true, principals: scan.principals.length, skipped: [], connector: scan.connector }, principals: scan.principals, sessions: scan.sessions };
  }
  const scan = await scanAwsIam(integration, { instance, managed, now: options.now, ...options.iam });
  return { outcome: { integration: integration.name, type: integration.type, ok: true, principals: scan.principals.length, skipped: scan.skipped }, principals: scan.principals, sessions: null };
}

/** Scans, samples and scores. A backend that cannot be read is reported as such; the others still are. */
export async function discover(options: DiscoverOptions): Promise<DiscoveryReport> {
  const { config, now, store } = options;
  const scope = integrationsInScope(config, options.only);
  const outcomes: IntegrationScanOutcome[] = [];
  const principals: ScannedPrincipal[] = [];
  for (const integration of scope) {
    let result: Awaited<ReturnType<typeof scanOne>>;
    try {
      result = await scanOne(integration, options);
    } catch (error) {
      outcomes.push({ integration: integration.name, type: integration.type, ok: false, error: error instanceof Error ? error.message : String(error), principals: 0, skipped: [] });
      continue;
    }
    outcomes.push(result.outcome);
    if (result.sessions && store) {
      await store.recordSample(integration.name, now, result.sessions);
      const history = await store.activity(integration.name);
      for (const principal of result.principals) {
        principal.watchedSince = history.watchedSince;
        principal.lastUsedAt = history.lastSeen.get(principal.principal) ?? principal.lastUsedAt;
      }
    } else if (result.sessions) {
      for (const principal of result.principals) {
        principal.watchedSince = now;
        if (principal.activeNow) principal.lastUsedAt = now;
      }
    }
    principals.push(...result.principals);
  }

  const labels = new Map(config.integrations.map((integration) => [integration.name, integration.labels]));
  const ranked = rankPrincipals(principals, {
    now, dormantAfterMs: config.discovery.dormantAfter, sensitivity: config.discovery.sensitivity,
    integrationLabels: (name) => labels.get(name) ?? [],
  });

  let changes: ScanChange[] | null = null;
  let previousScanAt: Instant | null = null;
  if (store) {
    const previous = await store.lastScan(now);
    if (previous) {
      const scanned = new Set(outcomes.filter((outcome) => outcome.ok).map((outcome) => outcome.integration));
      changes = changesBetween(previous.summary.filter((row) => scanned.has(row.integration)), ranked);
      previousScanAt = previous.scannedAt;
    }
    if (options.recordScan) {
      await store.recordScan(now, ranked.map((p) => ({ integration: p.integration, principal: p.principal, score: p.score, level: p.level, usage: p.usage })));
    }
  }
  return { scannedAt: now, dormantAfterMs: config.discovery.dormantAfter, integrations: outcomes, principals: ranked, changes, previousScanAt };
}
