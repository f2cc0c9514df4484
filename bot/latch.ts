import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { directoryFromConfig, withIdentitySources, withOnCall } from '../config/directory.js';
import { identitySourceName, type LatchConfig } from '../config/schema.js';
import type { Directory } from '../core/directory.js';
import { revokeIneligible } from '../handlers/movers.js';
import { offboard } from '../handlers/offboard.js';
import { identitySyncJobs } from '../jobs/identity-sync.js';
import { discoveryDigestJobs } from '../jobs/discovery-digest.js';
import { discoverySampleJobs } from '../jobs/discovery-sample.js';
import { rdsDiscoveryJobs } from '../jobs/rds-discovery.js';
import { configChanges } from '../config/diff.js';
import { RdsDiscoveries } from './rds-discovery.js';
import { IdentitySources } from './identity/sources.js';
import { registerIdentitySourceMetrics } from './identity/metrics.js';
import { registerScimRoutes } from './scim/routes.js';
import { formatConfigErrors } from '../config/parse.js';
import { loadConfigFile } from '../config/load.js';
import type { ActiveConfig, LatchContext } from '../handlers/context.js';
import type { Notifier } from '../handlers/notifier.js';
import { jobBatchHandlers, jobHandlers } from '../jobs/handlers.js';
import { pruneAuditJob } from '../jobs/prune-audit.js';
import { reconcileJob } from '../jobs/reconcile.js';
import { JobRunner, jobsAtOnceVia, type RunnerOptions } from '../jobs/runner.js';
import { AuditStreamer, type AuditStreamOptions } from '../jobs/audit-stream.js';
import { registerAuditSinkMetrics } from '../jobs/audit-stream-metrics.js';
import { localOwnerId } from '../jobs/job-owner.js';
import { ProvisionerRegistry } from '../provisioners/registry.js';
import { createPostgresProvisioner } from '../provisioners/postgres.js';
import { createAwsRdsProvisioner } from '../provisioners/aws-rds.js';
import { createAwsS3Provisioner } from '../provisioners/aws-s3.js';
import { createAwsIamRoleProvisioner } from '../provisioners/aws-iam-role.js';
import { createAwsIdentityCenterProvisioner } from '../provisioners/aws-identity-center.js';
import { createMysqlProvisioner } from '../provisioners/mysql.js';
import { createCommandProvisioner } from '../provisioners/command.js';
import { createHttpProvisioner } from '../provisioners/http.js';
import { createAzurePostgresProvisioner } from '../provisioners/azure-postgres.js';
import type { ProvisionerFactory } from '../provisioners/provisioner.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';
import { LogNotifier } from './log-notifier.js';
import { createLogger } from './logger.js';
import { InFlight, trackSlackEvents } from './in-flight.js';
import { ConfigReloader, replaceStaleProvisioners, type ReloadOutcome, type ReloadTrigger } from './config-reload.js';
import { AdminAlerts, slackAlertChannel, teamsAlertChannel } from './admin-alert.js';
import { TeamsIdentities } from './teams/identity.js';
import { rememberConfigSecrets, rememberSecretsFrom } from './redact.js';
import { registerStoreMetrics } from './metrics.js';
import { buildServer } from './server.js';
import { integrationsHealth } from './integration-health.js';
import { createSlackApp, slackTransportFrom } from './slack/app.js';
import type { SlackReceiver } from './slack/receiver.js';
import type { SlackTokenRefused } from './slack/socket-receiver.js';
import { createTeamsApp } from './teams/app.js';
import { PlatformNotifier } from './platform-notifier.js';
import { OnCallSchedules } from './oncall/schedules.js';

export interface LatchOptions {
  configFile: string;
  databaseUrl?: string;
  port?: number;
  host?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  notifier?: Notifier;
  provisioners?: ProvisionerRegistry;
  runner?: Partial<Omit<RunnerOptions, 'owner'>>;
  now?: () => number;
  /** Reload the config when its file changes (default true). */
  watchConfig?: boolean;
  /** Audit streaming's timing (tests): how often caught-up sinks look, the retry backoff, and who holds the sinks' leases. */
  auditStream?: Partial<Pick<AuditStreamOptions, 'pollMs' | 'retryBaseMs' | 'retryMaxMs' | 'leaseMs' | 'owner'>>;
  /** Latch cannot go on as configured (Slack refused the app-level token after start); already logged. main.ts exits 1. */
  onFatal?: (error: Error) => void;
}

export interface RunningLatch {
  app: FastifyInstance;
  ctx: LatchContext;
  runner: JobRunner;
  /** Forwards the audit log to the config's `auditSinks`. */
  auditStream: AuditStreamer;
  store: Store;
  /** The port the server listens on (useful when started on port 0). */
  port: number;
  /**
   * Graceful stop: /healthz answers 503 at once, chat requests are refused, what was
   * accepted (HTTP requests, chat work after the acknowledgement, running jobs) may finish
   * within `timeoutMs`, job claims are given back, then the backends and the store close.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Loads the config file again (what SIGHUP does); a config with errors is refused and the running one kept. */
  reload(trigger?: ReloadTrigger): Promise<ReloadOutcome>;
}

/** How long a graceful stop waits for accepted work; under the usual 30 s an orchestrator grants before SIGKILL. */
export const SHUTDOWN_TIMEOUT_MS = 25_000;

export class ConfigRefused extends Error {}

/** How often an instance looks for identity-source changes another instance wrote. */
const IDENTITY_REFRESH_MS = 5_000;

/**
 * Every backend this build can provision, by integration type. The instance prefix of
 * the config is handed to each backend, which refuses to touch principals without it.
 */
export function defaultProvisioners(env: NodeJS.ProcessEnv, instance = 'latch'): ProvisionerRegistry {
  const withInstance = (factory: ProvisionerFactory): ProvisionerFactory => (integration, environment) =>
    factory({ ...integration, connection: { instance, ...integration.connection } }, environment);
  return new ProvisionerRegistry(env)
    .registerType('postgresql', withInstance(createPostgresProvisioner))
    .registerType('mysql', withInstance(createMysqlProvisioner))
    .registerType('azure-postgresql', withInstance(createAzurePostgresProvisioner))
    .registerType('aws-iam-role', withInstance(createAwsIamRoleProvisioner))
    .registerType('aws-rds', withInstance(createAwsRdsProvisioner))
    .registerType('aws-s3', withInstance(createAwsS3Provisioner))
    .registerType('aws-identity-center', withInstance(createAwsIdentityCenterProvisioner))
    .registerType('command', createCommandProvisioner)
    .registerType('http', createHttpProvisioner);
}

/** Closes the HTTP server; connections still open when the time is up are cut. */
async function closeWithin(app: FastifyInstance, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    app.close().then(() => true, () => true),
    new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); }),
  ]);
  clearTimeout(timer);
  if (!closed) app.server.closeAllConnections();
}

function platformNotices(env: NodeJS.ProcessEnv, log: Logger): void {
  if (!slackTransportFrom(env)) log.info('Slack is disabled: set SLACK_BOT_TOKEN and either SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP) to enable it');
  if (!env.MICROSOFT_APP_ID || !env.MICROSOFT_APP_PASSWORD) log.info('Teams is disabled: set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD to enable it');
}

/**
 * Starts Latch: config (refusing to start on any error), store and migrations, the HTTP
 * server, then the job runner, which first works off everything overdue while the
 * server already answers.
 */
export async function startLatch(options: LatchOptions): Promise<RunningLatch> {
  const env = options.env ?? process.env;
  const log = options.logger ?? createLogger();
  const loaded = loadConfigFile(options.configFile);
  if (!loaded.ok) throw new ConfigRefused(`Latch will not start: the config has errors.\n${formatConfigErrors(loaded.errors)}`);

  // Latch's own secrets are scrubbed from every log line by value, whatever field or message carries them.
  rememberSecretsFrom(env);
  rememberConfigSecrets(loaded.config, env);
  let ready = false;
  let stopping = false;
  const work = new InFlight();
  const store = await openStore(options.databaseUrl);
  const now = options.now ?? Date.now;
  // The running config is the file's merged with what RDS discovery found.
  const discoveries = new RdsDiscoveries({
    store, log, now, env, current: () => active, alertAdmins: (text) => alerts.alert(text), apply: (merged) => applyDiscovered(merged),
  });
  // What the last passes before this start found, so revokes and the request modal have it before the first pass ends.
  let active: ActiveConfig = { config: await discoveries.load(loaded.config), directory: directoryFromConfig(loaded.config), hash: loaded.hash, file: loaded.file };
  discoveries.adopt(active.config);
  const oncall = new OnCallSchedules({ env, config: () => active.config, now, log });
  const identities = store.identitySnapshots ? new IdentitySources({
    store: store.identitySnapshots, env, config: () => active.config, now, log,
    alertAdmins: (text) => alerts.alert(text),
    offboard: async (email, reason, offboarding) => {
      const report = await offboard(ctx, email, reason, offboarding);
      if (report.revoked.length + report.cancelled.length + report.rerouted.length > 0) log.warn({ ...report, reason }, `leaver ${email}: ${reason}; access revoked and requests cancelled`);
    },
    reviewMovers: async () => {
      const revoked = await revokeIneligible(ctx);
      if (revoked.length > 0) log.warn({ revoked }, `revoked ${revoked.length} grant(s) of people no longer among their flow's requesters`);
    },
    openRequestPeople: async () => [...new Set((await store.listRequests({ states: ['pending', 'ready', 'active'], limit: 10_000 })).flatMap((record) => [record.request.requester, record.request.grantee]))],
  }) : null;
  await identities?.load();
  // With several instances on one database, each picks up the others' syncs and SCIM pushes within seconds.
  const identityRefresh = identities ? setInterval(() => {
    identities.refreshIfChanged().catch((error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not re-read the identity sources from the store'));
  }, IDENTITY_REFRESH_MS) : null;
  identityRefresh?.unref();
  if (!identities && loaded.config.identitySources.length > 0) log.warn({ store: store.dialect }, `identity sources are off: the ${store.dialect} store does not keep their snapshots yet; people and groups come from the config only`);
  // The config's directory, then the identity sources behind its groups and managers, then on-call schedules.
  const directoryFor = (config: LatchConfig, base: Directory): Directory => withOnCall(identities ? withIdentitySources(base, config, identities.lookup) : base, oncall);
  active.directory = directoryFor(active.config, active.directory);
  const provisioners = options.provisioners ?? defaultProvisioners(env, loaded.config.settings.instance);
  // An integration kept only for its live grants revokes after a restart, and grants nothing.
  if (!options.provisioners) discoveries.pinRetained(provisioners, active.config);
  let runner: JobRunner | null = null;
  const auditStream = new AuditStreamer({
    store, log, now, env, instance: () => active.config.settings.instance, alertAdmins: (text) => alerts.alert(text), ...options.auditStream,
  });
  const ctx: LatchContext = {
    store,
    current: () => active,
    provisioners,
    notifier: options.notifier ?? new LogNotifier(log),
    log,
    now,
    wake: () => {
      runner?.wake();
      auditStream.wake();
    },
    jobsAtOnce: jobsAtOnceVia(() => runner),
    oncall,
    ...(identities ? { identities } : {}),
    rdsDiscovery: discoveries,
    runJobsNow: async () => {
      runner?.wake();
      await runner?.idle();
    },
  };
  const alerts = new AdminAlerts(store, () => active, log);
  ctx.alertAdmins = (text) => alerts.alert(text);
  const closeRetired: (() => Promise<void>)[] = [];
  // Backends of changed integrations are built anew; so are those RDS discovery moved between offered and retained.
  const replaceBackends = (before: LatchConfig, after: LatchConfig): void => {
    const changes = configChanges(before, after);
    const moved = discoveries.retentionChanged(before, after);
    const stale = { ...changes, integrations: { ...changes.integrations, changed: [...new Set([...changes.integrations.changed, ...moved])] } };
    closeRetired.push(replaceStaleProvisioners(ctx, defaultProvisioners(env, after.settings.instance), before, stale));
    discoveries.pinRetained(ctx.provisioners, after);
  };
  const applyDiscovered = (merged: LatchConfig): void => {
    const before = active.config;
    active = { ...active, config: merged, directory: directoryFor(merged, directoryFromConfig(merged)) };
    discoveries.adopt(merged);
    if (!options.provisioners) replaceBackends(before, merged);
  };
  const reloader = new ConfigReloader({
    file: options.configFile, store, log, now, current: () => active,
    alertAdmins: (text) => alerts.alert(text),
    beforeRecord: (next) => auditStream.openCursors(next.auditSinks),
    merge: (config) => discoveries.merge(config),
    apply(checked) {
      const before = active.config;
      // A discovery pass may have ended while the reload was checked: the new file merged with the latest listing.
      const next = { ...checked, config: discoveries.merge(discoveries.baseOf(checked.config)) };
      rememberConfigSecrets(next.config, env);
      active = { ...next, directory: directoryFor(next.config, next.directory) };
      discoveries.adopt(next.config);
      void discoveries.prune().catch((error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not let go of the RDS instances of a discovery the reload removed'));
      const addedDiscoveries = next.config.rdsDiscovery.filter((block) => !before.rdsDiscovery.some((old) => old.name === block.name));
      if (addedDiscoveries.length > 0) {
        void store.commit({ enqueue: rdsDiscoveryJobs({ rdsDiscovery: addedDiscoveries }, now()) }).then(
          () => runner?.wake(),
          (error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not queue the first pass of the RDS discoveries the reload added'),
        );
      }
      // A source added by the reload is synced now; one already queued keeps its time.
      const added = next.config.identitySources.filter((source) => !before.identitySources.some((old) => identitySourceName(old) === identitySourceName(source)));
      if (added.length > 0) {
        void store.commit({ enqueue: identitySyncJobs({ ...next.config, identitySources: added }, now()) }).then(
          () => runner?.wake(),
          // A store hiccup here must not end the process; the new sources sync from the next start or `identities sync`.
          (error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not queue the first sync of the identity sources the reload added'),
        );
      }
      void auditStream.configure(next.config.auditSinks);
      // A registry handed in (tests, embedders) is kept as it is: its instances were chosen on purpose.
      if (!options.provisioners) replaceBackends(before, next.config);
    },
  });
  for (const integration of loaded.config.integrations) {
    if (!provisioners.supports(integration)) log.warn({ integration: integration.name, type: integration.type }, `integration ${integration.name}: type ${integration.type} cannot be provisioned by this build; its grants will fail`);
  }
  // Before config.loaded: a new sink that starts `from: now` begins with the event that shows the config adding it.
  await auditStream.openCursors(loaded.config.auditSinks);
  await store.commit({ enqueue: [pruneAuditJob(now()), reconcileJob(now(), true), ...identitySyncJobs(loaded.config, now()), ...discoveryDigestJobs(loaded.config, now()), ...discoverySampleJobs(loaded.config, now()), ...rdsDiscoveryJobs(loaded.config, now())], audit: [{ type: 'config.loaded', requestId: null, actor: 'latch', at: now(), data: { file: loaded.file, sha256: loaded.hash, flows: loaded.config.flows.length, integrations: loaded.config.integrations.length } }] });
  platformNotices(env, log);

  registerStoreMetrics(store);
  registerAuditSinkMetrics(() => auditStream.lags());
  if (identities) registerIdentitySourceMetrics(() => identities.health());
  let slackReceiver: SlackReceiver | null = null;
  const app = buildServer({ logger: log, ready: () => ready, accepting: () => !stopping, inFlight: work, details: async () => [...await integrationsHealth(ctx), ...discoveries.health()], oncall: () => oncall.health(), auditSinks: () => auditStream.health(), identitySources: () => identities?.health() ?? Promise.resolve([]), platforms: () => (slackReceiver ? { slack: slackReceiver.status() } : {}) });
  const scim = loaded.config.identitySources.find((source) => source.type === 'scim');
  if (scim && identities && store.identitySnapshots) {
    const token = env[scim.token.env];
    if (!token) log.warn({ source: identitySourceName(scim) }, `SCIM is disabled: ${scim.token.env} (the bearer token identity providers send) is not set`);
    else {
      registerScimRoutes(app, { source: identitySourceName(scim), token, store: store.identitySnapshots, now, pushed: (leavers) => identities.pushed(leavers) });
      log.info({ source: identitySourceName(scim) }, 'SCIM 2.0 provisioning is enabled at /scim/v2');
    }
  }
  const platforms: { name: string; notifier: Notifier }[] = [];
  const slackTransport = slackTransportFrom(env);
  if (slackTransport && env.SLACK_BOT_TOKEN) {
    const onFatal = (error: SlackTokenRefused): void => {
      log.fatal({ reason: error.reason }, error.message);
      options.onFatal?.(error);
    };
    const slack = createSlackApp({ server: app, transport: slackTransport, accepting: () => !stopping, onFatal, botToken: env.SLACK_BOT_TOKEN, apiUrl: env.SLACK_API_URL, log, ctx, alertAdmins: (text) => alerts.alert(text) });
    slackReceiver = slack.receiver;
    trackSlackEvents(slack.app, work);
    alerts.add(slackAlertChannel(slack.app.client, slack.identities));
    platforms.push({ name: 'slack', notifier: slack.notifier });
    log.info({ apiUrl: env.SLACK_API_URL ?? 'https://slack.com/api/' }, slackTransport.kind === 'socket' ? 'Slack is enabled over Socket Mode (no inbound URL; /slack/events is not used)' : 'Slack is enabled at POST /slack/events');
  }
  if (env.MICROSOFT_APP_ID && env.MICROSOFT_APP_PASSWORD) {
    const teams = createTeamsApp({ server: app, ctx, env, log, alertAdmins: (text) => alerts.alert(text) });
    alerts.add(teamsAlertChannel(teams.adapter, env.MICROSOFT_APP_ID, new TeamsIdentities(store, log, now)));
    platforms.push({ name: 'teams', notifier: teams.notifier });
    log.info('Teams is enabled at POST /api/messages');
  }
  if (!options.notifier && platforms.length > 0) ctx.notifier = platforms.length === 1 && platforms[0] ? platforms[0].notifier : new PlatformNotifier(store, platforms);
  // Socket Mode connects before Latch says it is up, so a refused token stops the start with its reason.
  await slackReceiver?.start().catch(async (error: unknown) => {
    await app.close();
    await ctx.provisioners.close();
    await store.close();
    throw error;
  });
  await app.listen({ port: options.port ?? 3000, host: options.host ?? '0.0.0.0' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 3000);

  runner = new JobRunner(ctx, jobHandlers, { owner: localOwnerId(), ...options.runner }, jobBatchHandlers);
  void auditStream.configure(loaded.config.auditSinks);
  runner.start();
  // A discovery removed while Latch was down leaves the integrations it found once no grant on them is live.
  void discoveries.prune().catch((error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not let go of the RDS instances of a discovery no longer in the config'));
  ready = true;
  if (options.watchConfig !== false) reloader.watch();
  log.info({ port, config: loaded.file, store: store.dialect }, `Latch is ready on port ${port}`);

  let stopped: Promise<void> | null = null;
  const stop = async (timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    // The order matters: readiness fails first, then new chat work is refused, then what was accepted drains.
    ready = false;
    stopping = true;
    reloader.close();
    if (identityRefresh) clearInterval(identityRefresh);
    const [jobsFinished, workFinished] = await Promise.all([runner?.stop(left()) ?? true, work.settled(left()), slackReceiver?.stop(left())]);
    if (!workFinished) log.warn({ inFlight: work.size }, 'shutdown deadline reached with chat work still in flight');
    // Each sink finishes the delivery in progress; what is left goes out after the restart, from the cursor.
    await auditStream.stop(left());
    await closeWithin(app, left());
    await Promise.all(closeRetired.map((close) => close()));
    await ctx.provisioners.close();
    discoveries.close();
    await store.close();
    log.info({ jobsFinished, workFinished }, 'Latch stopped');
  };
  return {
    app, ctx, runner, store, port, auditStream,
    stop(stopOptions = {}) {
      stopped ??= stop(stopOptions.timeoutMs ?? SHUTDOWN_TIMEOUT_MS);
      return stopped;
    },
    reload: (trigger = 'api') => reloader.reload(trigger),
  };
}
