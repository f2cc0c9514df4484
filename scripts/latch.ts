// The `latch` command line: `npm run latch -- <command>`. Kept thin: the work is done by
// config/ and storage/; this file reads arguments, prints, and picks the exit status.
import { existsSync, readlinkSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../config/load.js';
import { describeChanges, type ConfigChanges } from '../config/diff.js';
import { formatConfigErrors, type ConfigError } from '../config/parse.js';
import { pidFileFor, readPidFile } from '../bot/pid-file.js';
import { auditReportFromStore, parseSince, reportToCsv, reportToJson } from '../storage/audit-report.js';
import { verifyStoreAudit } from '../storage/audit-verify.js';
import { DEFAULT_DATABASE_URL, openStore, sqlitePathOf, storeDialectOf } from '../storage/open-store.js';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import type { IdentityBinding, Store } from '../storage/store.js';
import type { LatchConfig } from '../config/schema.js';

const USAGE = `Usage: npm run latch -- <command> [options]

Commands:
  config check [FILE]     Check a config file and print the report the server prints when
                          it refuses one (file:line:column key: message).
                          FILE defaults to $LATCH_CONFIG, then ${DEFAULT_CONFIG_FILE}.
      --explain           Also say, for every flow, who could ask, who would be asked to
                          approve at each step, and where each message would go, with
                          the number of people it notifies.
  config reload           Make the running server load its config file again: it is sent
                          SIGHUP (its pid is in latch.pid next to the store), and this
                          prints what changed, or the errors the server refused it for.
  audit verify            Check the audit log's hash chain and name the first broken event.
  audit export            Print the access report, one row per request, to stdout.
      --since WHEN        Requests with any event at or after WHEN: 2026-11-01,
                          2026-11-01T10:00Z (UTC unless a zone is given), or a time back
                          from now: 7d, 24h, 1h30m. Default: every request in the log.
      --format csv|json   Default: csv.
  integrations status     Check that Latch can provision in each integration of the
      [--config FILE]     config: it connects to each backend. FILE as for config check.
  integrations resources  What each backend that can tell offers, next to what the config
      [INTEGRATION]       names: ✗ a config resource or permission the backend does not
      [--config FILE]     know (a grant there would fail; exit status 1), + one the backend
                          offers and the config does not.
  integrations discover-rds FILE
                          List the RDS instances in FILE's regions tagged for its
                          connectorId and print each as an aws-rds integration, YAML for
                          the config; instances with missing or malformed tags are named
                          with what is wrong (exit status 1). See docs/provisioners/aws.md.
  identities list         Show every chat account bound to a Latch identity; accounts
                          Latch refuses to act for (their e-mail changed, or a second
                          Slack account claims an e-mail) come first, with what they report.
  identities rebind       Bind a chat account to an e-mail and let it act again:
      --platform slack|teams --user ID --email ADDRESS
                          ID is the Slack user id (U...) or the Teams AAD object id. The
                          audit event names who ran it: $LATCH_OPERATOR, else the OS user.
  identities sync         Ask the running server to sync every identity source it reads
      [SOURCE]            (or SOURCE) now, and print each outcome: OK, HELD (the answer
      [--config FILE]     would disable more than maxDisableShare; nothing was applied),
      [--allow-mass-disable]  FAIL (the last good snapshot stays). --allow-mass-disable
      [--wait SECONDS]    applies a held answer. Waits 60 s by default.
  identities show EMAIL   A person's state, manager and groups, and the source (or the
      [--config FILE]     config) each came from, from the store's last snapshots.
  migrate                 Apply pending database migrations (SQLite or PostgreSQL; several
                          instances starting at once on PostgreSQL wait for each other).
  store copy              Move an installation from its SQLite file to PostgreSQL: every
      --from sqlite:PATH  table, in one transaction, into an empty database (it is
      --to postgres://... migrated first); the copied audit chain is verified and must
                          end in the source's last hash. Stop Latch before copying.
  discover                Scan the postgresql, mysql and aws-iam-role integrations for
      [--integration NAME] standing privileges and print the principals riskiest first,
      [--json FILE]        with why (level, sensitivity, use); FILE gets the report as
                          JSON. Latch's own principals are never listed.
  discover remediate PRINCIPAL --integration NAME [--confirm]
                          Show what revoking PRINCIPAL's standing privileges would run
                          and the access flow that replaces them (config YAML); with
                          --confirm revoke them, audited as discovery.remediated.
  discover undo ID        Put back what remediation ID removed, within
                          discovery.undoWithin of it (audited as discovery.undone).
  help                    Show this text.

Options for audit, config reload, identities and migrate:
  --database URL          The store (default: $DATABASE_URL, then ${DEFAULT_DATABASE_URL}).

audit verify prints the hash of the last event: keep it, since a log cut short at
its end still verifies on its own.

Exit status: 0 all good, 1 a problem was found (config errors, a broken audit chain, an
unhealthy integration, no database), 2 the command line was wrong.
`;

/** The command line is wrong: say why, show the usage, exit 2. */
class UsageError extends Error {}
/** Something is wrong with what the command looked at: say it, exit 1. */
class Problem extends Error {}

interface Io {
  out(text: string): void;
  err(text: string): void;
}

interface Options {
  database?: string;
  since?: string;
  format?: string;
  config?: string;
  platform?: string;
  user?: string;
  email?: string;
  explain?: boolean;
  from?: string;
  to?: string;
  allowMassDisable?: boolean;
  wait?: string;
  integration?: string;
  json?: string;
  confirm?: boolean;
}

/** A database URL fit to print: a password in it is masked. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

function only(command: string, options: Options, allowed: readonly (keyof Options)[]): void {
  for (const name of Object.keys(options) as (keyof Options)[]) {
    if (options[name] !== undefined && !allowed.includes(name)) throw new UsageError(`${command} takes no --${name} option`);
  }
}

function noMoreArguments(command: string, rest: readonly string[]): void {
  if (rest.length > 0) throw new UsageError(`${command}: unexpected argument "${rest[0] ?? ''}"`);
}

/**
 * Opens an existing store without migrating it: verifying or exporting must not rewrite
 * the file it reads (it may be a copy kept as evidence), nor create an empty one.
 */
async function openForReading(url: string): Promise<Store> {
  // Not a SQLite file: openStore opens it, or says why it cannot (without connecting anywhere).
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme && !/^(sqlite|file)$/i.test(scheme)) return openStore(url, { migrate: false });
  const path = url.replace(/^(sqlite|file):(\/\/)?/, '');
  if (path !== ':memory:' && !existsSync(path)) throw new Problem(`there is no database at ${path}; name it with --database or DATABASE_URL`);
  return new SqliteStore({ path });
}

async function withStore<T>(url: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openForReading(url);
  try {
    return await work(store);
  } catch (error) {
    // drizzle wraps PostgreSQL's error (`cause`) in one that quotes the query.
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : '';
    if (/no such table|relation "[a-z_]+" does not exist/i.test(reason)) {
      throw new Problem(`${redactUrl(url)} has no audit log (${reason}); is it a Latch database?`);
    }
    throw error;
  } finally {
    await store.close();
  }
}

async function configCheck(io: Io, rest: readonly string[], env: NodeJS.ProcessEnv, explain: boolean): Promise<number> {
  const [file = env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE, ...extra] = rest;
  noMoreArguments('config check', extra);
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    io.out(`${formatConfigErrors(loaded.errors)}\n`);
    return 1;
  }
  io.out(`${file}: OK (${loaded.config.flows.length} flows, ${loaded.config.integrations.length} integrations)\n`);
  if (explain) {
    const [{ explainConfig }, { directoryFromConfig }] = await Promise.all([import('../config/explain.js'), import('../config/directory.js')]);
    io.out(`\n${explainConfig(loaded.config, directoryFromConfig(loaded.config))}`);
  }
  return 0;
}

/** How long `config reload` waits for the server to record what it made of the file. */
const RELOAD_ANSWER_MS = 15_000;

/** The pid of a running server, checked: a stale pid file must not make us signal some other process. */
function runningServer(database: string): number {
  const file = pidFileFor(database);
  const pid = readPidFile(file);
  if (pid === null) throw new Problem(`no running Latch found: ${file} does not exist (the server writes it at start; name its store with --database or DATABASE_URL)`);
  try {
    process.kill(pid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPERM') throw new Problem(`not allowed to signal Latch (pid ${pid}); run this as the user Latch runs as`);
    throw new Problem(`Latch is not running: ${file} names pid ${pid}, which has ended (a crash leaves the file behind)`);
  }
  let executable: string | null = null;
  try {
    executable = basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    // Not Linux, or not ours to read: the liveness check above is all there is.
  }
  if (executable !== null && !executable.startsWith('node')) throw new Problem(`${file} names pid ${pid}, which is ${executable}, not Latch; the file is stale`);
  return pid;
}

async function configReload(io: Io, database: string): Promise<number> {
  const pid = runningServer(database);
  return withStore(database, async (store) => {
    const sent = Date.now();
    process.kill(pid, 'SIGHUP');
    const deadline = sent + RELOAD_ANSWER_MS;
    while (Date.now() < deadline) {
      const events = await store.auditEvents({ since: sent });
      const answer = events.find((event) => (event.type === 'config.loaded' || event.type === 'config.refused') && event.data.trigger === 'signal');
      if (answer?.type === 'config.loaded') {
        const { file, sha256, changes } = answer.data as { file: string; sha256: string; changes: ConfigChanges };
        io.out(`Latch (pid ${pid}) loaded ${file} (sha256 ${sha256.slice(0, 12)}): ${describeChanges(changes)}\n`);
        return 0;
      }
      if (answer?.type === 'config.refused') {
        const { errors, kept } = answer.data as { errors: ConfigError[]; kept: string };
        io.out(`${formatConfigErrors(errors)}\nLatch (pid ${pid}) refused the config and keeps running on the previous one (sha256 ${kept.slice(0, 12)}).\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Problem(`Latch (pid ${pid}) was sent SIGHUP but recorded no reload within ${RELOAD_ANSWER_MS / 1000} s; look at its log`);
  });
}

async function auditVerify(io: Io, database: string): Promise<number> {
  const result = await withStore(database, verifyStoreAudit);
  if (!result.ok) {
    const { seq, type, at, message } = result.firstBroken;
    io.out(`audit chain BROKEN at event #${seq} (${type} at ${new Date(at).toISOString()}): ${message}\n`);
    return 1;
  }
  const pruned = result.prunedThroughSeq !== null ? `; events #1-#${result.prunedThroughSeq} were removed by retention, and their audit.pruned record anchors the rest` : '';
  io.out(`audit chain OK: ${result.count} event${result.count === 1 ? '' : 's'}, last hash ${result.lastHash}${pruned}\n`);
  return 0;
}

async function auditExport(io: Io, options: Options, database: string): Promise<number> {
  const format = options.format ?? 'csv';
  if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, not "${format}".`);
  let since: number | undefined;
  if (options.since !== undefined) {
    const parsed = parseSince(options.since, Date.now());
    if (parsed === null) throw new UsageError(`--since: "${options.since}" is neither a date nor a duration. Write a date (2026-11-01), a UTC time (2026-11-01T10:00Z) or a time back from now (7d, 24h).`);
    since = parsed;
  }
  const rows = await withStore(database, (store) => auditReportFromStore(store, { since }));
  io.out(format === 'csv' ? reportToCsv(rows) : reportToJson(rows));
  io.err(`${rows.length} request${rows.length === 1 ? '' : 's'}${since !== undefined ? ` with events since ${new Date(since).toISOString()}` : ''}\n`);
  return 0;
}

async function integrationsStatus(io: Io, file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    io.out(`${formatConfigErrors(loaded.errors)}\n`);
    return 1;
  }
  // Loaded here only: they bring every backend driver, which the other commands do not need.
  const [{ defaultProvisioners }, { integrationsHealth }, { directoryFromConfig }] = await Promise.all([
    import('../bot/latch.js'), import('../bot/integration-health.js'), import('../config/directory.js'),
  ]);
  const provisioners = defaultProvisioners(env);
  const active = { config: loaded.config, directory: directoryFromConfig(loaded.config), hash: loaded.hash, file };
  try {
    const report = await integrationsHealth({ current: () => active, provisioners });
    for (const entry of report) {
      io.out(`${entry.ok ? 'OK  ' : 'FAIL'} ${entry.integration} (${entry.type})\n`);
      for (const check of entry.checks) io.out(`     ${check.ok ? '✓' : '✗'} ${check.name}${check.detail ? `: ${check.detail}` : ''}\n`);
    }
    return report.every((entry) => entry.ok) ? 0 : 1;
  } finally {
    await provisioners.close();
  }
}

/** Discovery by tags, printed as config: the admin reviews it and commits it with the rest. */
async function discoverRds(io: Io, file: string | undefined): Promise<number> {
  if (!file) throw new UsageError('integrations discover-rds needs the discovery file: connectorId, regions, owner, resources (docs/provisioners/aws.md)');
  const [{ readFileSync }, { parse, stringify }, discovery, { AwsClients }, { AwsConnection }] = await Promise.all([
    import('node:fs'), import('yaml'), import('../provisioners/aws/rds-discovery.js'), import('../provisioners/aws/clients.js'), import('../provisioners/aws/settings.js'),
  ]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Problem(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const spec = discovery.DiscoverySpec.safeParse(parse(text));
  if (!spec.success) throw new Problem(spec.error.issues.map((issue) => `${file}: ${issue.path.join('.') || '(top)'}: ${issue.message}`).join('\n'));
  const clients = new AwsClients('discover-rds', AwsConnection.parse({ region: spec.data.regions[0] }));
  try {
    const result = await discovery.discoverRdsInstances(clients, discovery.discoveryOptions(spec.data));
    io.out(stringify({ integrations: result.sources }));
    for (const skipped of result.skipped) io.err(`SKIP ${skipped.instance} (${skipped.region}): tagged for connector ${skipped.connectorId}\n`);
    for (const problem of result.problems) io.err(`PROBLEM ${problem.code} ${problem.message}\n`);
    io.err(`${result.integrations.length} integration(s), ${result.skipped.length} skipped, ${result.problems.length} problem(s)\n`);
    return result.problems.length > 0 ? 1 : 0;
  } finally {
    clients.destroy();
  }
}

async function integrationsResources(io: Io, file: string, only: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    io.out(`${formatConfigErrors(loaded.errors)}\n`);
    return 1;
  }
  const integrations = loaded.config.integrations.filter((integration) => only === undefined || integration.name === only);
  if (integrations.length === 0) throw new Problem(`${file} has no integration "${only ?? ''}"`);
  // Loaded here only, as for integrations status: every backend driver comes with them.
  const [{ defaultProvisioners }, { compareResources }] = await Promise.all([import('../bot/latch.js'), import('../provisioners/resource-offers.js')]);
  const provisioners = defaultProvisioners(env);
  let status = 0;
  try {
    for (const integration of integrations) {
      const provisioner = provisioners.supports(integration) ? provisioners.for(integration) : null;
      if (!provisioner?.listResources) {
        io.out(`SKIP ${integration.name} (${integration.type}): this type cannot list what it offers\n`);
        if (only !== undefined) status = 1;
        continue;
      }
      let comparison;
      try {
        comparison = compareResources(integration, await provisioner.listResources());
      } catch (error) {
        io.out(`FAIL ${integration.name} (${integration.type}): ${error instanceof Error ? error.message : String(error)}\n`);
        status = 1;
        continue;
      }
      if (!comparison.ok) status = 1;
      io.out(`${comparison.ok ? 'OK  ' : 'FAIL'} ${integration.name} (${integration.type})\n`);
      for (const line of comparison.lines) {
        const about = line.description ? ` (${line.description})` : '';
        if (line.where === 'config-only') io.out(`     ✗ ${line.resource}: in the config, not offered by the backend; a grant there would fail\n`);
        else if (line.where === 'backend-only') io.out(`     + ${line.resource}: offered by the backend (${line.unconfiguredPermissions.join(', ') || 'no permissions'}), not in the config${about}\n`);
        else {
          io.out(`     ${line.unknownPermissions.length > 0 ? '✗' : '✓'} ${line.resource}: ${line.permissions.join(', ') || 'no permission in common'}${about}\n`);
          for (const permission of line.unknownPermissions) io.out(`       ✗ ${line.resource}/${permission}: in the config, not offered by the backend; a grant there would fail\n`);
          if (line.unconfiguredPermissions.length > 0) io.out(`       + also offered, not in the config: ${line.unconfiguredPermissions.join(', ')}\n`);
        }
      }
    }
    return status;
  } finally {
    await provisioners.close();
  }
}

const STOPPED: Record<string, string> = { email_changed: 'STOPPED: e-mail changed', duplicate_email: 'STOPPED: e-mail of another account' };

function identityLine(binding: IdentityBinding): string {
  const state = STOPPED[binding.state] ?? binding.state;
  const reported = binding.state === 'email_changed' ? `, reports ${binding.reportedEmail ?? '?'}` : '';
  const checked = binding.checkedAt > 0 ? new Date(binding.checkedAt).toISOString() : 'not yet';
  return `${binding.platform}\t${binding.platformUserId}\t${binding.email}\t${state}${reported}\tbound ${new Date(binding.boundAt).toISOString()} by ${binding.boundBy}, checked ${checked}\n`;
}

async function identitiesList(io: Io, database: string): Promise<number> {
  const bindings = await withStore(database, (store) => store.listIdentities());
  io.out('platform\tuser\te-mail\tstate\tbinding\n');
  for (const binding of bindings) io.out(identityLine(binding));
  const stopped = bindings.filter((binding) => binding.state !== 'bound').length;
  io.err(`${bindings.length} account${bindings.length === 1 ? '' : 's'}, ${stopped} stopped${stopped > 0 ? ': check each, then run identities rebind' : ''}\n`);
  return 0;
}

/** Who runs the command, for the audit trail: what the operator says, else the OS account. */
function operator(env: NodeJS.ProcessEnv): string {
  if (env.LATCH_OPERATOR?.trim()) return env.LATCH_OPERATOR.trim();
  try {
    return `${env.SUDO_USER || userInfo().username}@${hostname()}`;
  } catch {
    return 'unknown operator';
  }
}

const PLATFORMS = ['slack', 'teams'];
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

async function identitiesRebind(io: Io, options: Options, database: string, env: NodeJS.ProcessEnv): Promise<number> {
  const { platform, user, email } = options;
  if (!platform || !user || !email) throw new UsageError('identities rebind needs --platform, --user and --email');
  if (!PLATFORMS.includes(platform)) throw new UsageError(`--platform must be slack or teams, not "${platform}"`);
  if (platform === 'slack' && !SLACK_USER.test(user)) throw new UsageError(`--user: "${user}" is not a Slack user id (U...)`);
  if (!EMAIL.test(email)) throw new UsageError(`--email: "${email}" is not an e-mail address`);
  const by = operator(env);
  // Teams AAD object ids are GUIDs, kept in lower case.
  const platformUserId = platform === 'teams' && /^[0-9a-f-]{36}$/i.test(user) ? user.toLowerCase() : user;
  const { before, binding } = await withStore(database, (store) => store.rebindIdentity({ platform, platformUserId, email, at: Date.now(), by }));
  const was = before ? `was ${before.email}${before.state !== 'bound' ? ` (${STOPPED[before.state] ?? before.state}${before.reportedEmail ? `, reporting ${before.reportedEmail}` : ''})` : ''}` : 'was not known';
  io.out(`${platform} ${binding.platformUserId} is bound to ${binding.email} (${was}); Latch acts for it again. Recorded as identity.rebound by ${by}.\n`);
  return 0;
}

function configFor(options: Options, env: NodeJS.ProcessEnv): LatchConfig {
  const file = options.config ?? env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE;
  const loaded = loadConfigFile(file);
  if (!loaded.ok) throw new Problem(`the config has errors:\n${formatConfigErrors(loaded.errors)}`);
  return loaded.config;
}

async function identitiesSyncCommand(io: Io, options: Options, database: string, source: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  const config = configFor(options, env);
  const seconds = options.wait === undefined ? 60 : Number(options.wait);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) throw new UsageError(`--wait: "${options.wait ?? ''}" is not a number of seconds (0 to 3600)`);
  const { identitiesSync, IdentityCommandProblem } = await import('./identities.js');
  try {
    return await withStore(database, (store) => identitiesSync(io, store, config, { ...(source !== undefined ? { source } : {}), allowMassDisable: options.allowMassDisable === true, waitMs: seconds * 1000, by: operator(env) }));
  } catch (error) {
    if (error instanceof IdentityCommandProblem) throw new Problem(error.message);
    throw error;
  }
}

async function identitiesShowCommand(io: Io, options: Options, database: string, email: string, env: NodeJS.ProcessEnv): Promise<number> {
  const config = configFor(options, env);
  const { identitiesShow, IdentityCommandProblem } = await import('./identities.js');
  try {
    return await withStore(database, (store) => identitiesShow(io, store, config, email));
  } catch (error) {
    if (error instanceof IdentityCommandProblem) throw new Problem(error.message);
    throw error;
  }
}

async function migrateCommand(io: Io, database: string): Promise<number> {
  const store = await openStore(database);
  await store.close();
  io.out(`migrations applied to ${redactUrl(database)}\n`);
  return 0;
}

async function storeCopy(io: Io, options: Options): Promise<number> {
  const { from, to } = options;
  if (!from || !to) throw new UsageError('store copy needs --from sqlite:PATH and --to postgres://...');
  if (storeDialectOf(from) !== 'sqlite') throw new UsageError(`--from must name a SQLite store (sqlite:PATH), not ${redactUrl(from)}`);
  if (storeDialectOf(to) !== 'postgres') throw new UsageError(`--to must name a PostgreSQL database (postgres://...), not ${redactUrl(to)}`);
  const { copySqliteToPostgres, StoreCopyRefused } = await import('../storage/store-copy.js');
  try {
    const report = await copySqliteToPostgres({
      fromPath: sqlitePathOf(from), toUrl: to,
      progress: (table, rows) => io.err(`  ${table}: ${rows} row${rows === 1 ? '' : 's'}\n`),
    });
    const total = Object.values(report.rows).reduce((sum, rows) => sum + rows, 0);
    io.out(`copied ${total} rows from ${redactUrl(from)} to ${redactUrl(to)}; audit chain OK on the target: ${report.audit.count} events, last hash ${report.audit.lastHash}\n`);
    return 0;
  } catch (error) {
    if (error instanceof StoreCopyRefused) throw new Problem(error.message);
    throw error;
  }
}

async function discoverCommand(io: Io, options: Options, database: string, env: NodeJS.ProcessEnv, subcommand: string | undefined, rest: string[]): Promise<number> {
  if (subcommand === 'remediate') {
    only('discover remediate', options, ['database', 'config', 'integration', 'confirm']);
    noMoreArguments('discover remediate', rest.slice(1));
    if (!rest[0] || !options.integration) throw new UsageError('discover remediate needs the principal and --integration NAME, e.g. discover remediate app_admin --integration orders');
  } else if (subcommand === 'undo') {
    only('discover undo', options, ['database', 'config']);
    noMoreArguments('discover undo', rest.slice(1));
    if (!rest[0]) throw new UsageError('discover undo needs the remediation id, e.g. discover undo DR-7K3M9QX2');
  } else if (subcommand !== undefined) {
    throw new UsageError(`Unknown command "discover ${subcommand}".`);
  } else {
    only('discover', options, ['database', 'config', 'integration', 'json']);
  }
  if (options.json === '') throw new UsageError('--json needs a file name');
  const config = configFor(options, env);
  const { discoverRemediate, discoverReport, discoverUndo, DiscoverProblem } = await import('./discover.js');
  const { defaultProvisioners } = await import('../bot/latch.js');
  const provisioners = defaultProvisioners(env, config.settings.instance);
  const store = await openStore(database);
  try {
    const context = { io, store, config, env, provisioners, by: operator(env) };
    if (subcommand === 'remediate') return await discoverRemediate(context, { integration: options.integration ?? '', principal: rest[0] ?? '', confirm: options.confirm === true });
    if (subcommand === 'undo') return await discoverUndo(context, rest[0] ?? '');
    return await discoverReport(context, { only: options.integration ? [options.integration] : [], ...(options.json ? { json: options.json } : {}) });
  } catch (error) {
    if (error instanceof DiscoverProblem) throw new Problem(error.message);
    throw error;
  } finally {
    await provisioners.close();
    await store.close();
  }
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        database: { type: 'string' }, since: { type: 'string' }, format: { type: 'string' }, config: { type: 'string' },
        platform: { type: 'string' }, user: { type: 'string' }, email: { type: 'string' }, explain: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' },
        'allow-mass-disable': { type: 'boolean' }, wait: { type: 'string' }, help: { type: 'boolean', short: 'h' },
        integration: { type: 'string' }, json: { type: 'string' }, confirm: { type: 'boolean' },
      },
    });
  } catch (error) {
    // An unknown option, or an option without its value.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function run(io: Io, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parse(argv);
  const options: Options = { database: values.database, since: values.since, format: values.format, config: values.config, platform: values.platform, user: values.user, email: values.email, explain: values.explain, from: values.from, to: values.to, allowMassDisable: values['allow-mass-disable'], wait: values.wait, integration: values.integration, json: values.json, confirm: values.confirm };
  const [command, subcommand, ...rest] = positionals;
  if (values.help || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  const database = options.database ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  if (options.database === '') throw new UsageError('--database needs a URL, like sqlite:./data/latch.db');

  switch (command) {
    case undefined:
      throw new UsageError('no command given');
    case 'config':
      if (subcommand === 'reload') {
        only('config reload', options, ['database']);
        noMoreArguments('config reload', rest);
        return configReload(io, database);
      }
      if (subcommand !== 'check') throw new UsageError(subcommand ? `Unknown command "config ${subcommand}".` : 'config needs a subcommand: config check FILE, or config reload');
      only('config check', options, ['explain']);
      return configCheck(io, rest, env, options.explain === true);
    case 'audit':
      if (subcommand === 'verify') {
        only('audit verify', options, ['database']);
        noMoreArguments('audit verify', rest);
        return auditVerify(io, database);
      }
      if (subcommand === 'export') {
        only('audit export', options, ['database', 'since', 'format']);
        noMoreArguments('audit export', rest);
        return auditExport(io, options, database);
      }
      throw new UsageError(subcommand ? `Unknown command "audit ${subcommand}".` : 'audit needs a subcommand: audit verify or audit export');
    case 'integrations':
      if (subcommand === 'discover-rds') {
        only('integrations discover-rds', options, []);
        noMoreArguments('integrations discover-rds', rest.slice(1));
        return discoverRds(io, rest[0]);
      }
      if (subcommand === 'resources') {
        only('integrations resources', options, ['config']);
        noMoreArguments('integrations resources', rest.slice(1));
        return integrationsResources(io, options.config ?? env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE, rest[0], env);
      }
      if (subcommand !== 'status') throw new UsageError(subcommand ? `Unknown command "integrations ${subcommand}".` : 'integrations needs a subcommand: integrations status, integrations resources or integrations discover-rds');
      only('integrations status', options, ['config']);
      noMoreArguments('integrations status', rest);
      return integrationsStatus(io, options.config ?? env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE, env);
    case 'identities':
      if (subcommand === 'list') {
        only('identities list', options, ['database']);
        noMoreArguments('identities list', rest);
        return identitiesList(io, database);
      }
      if (subcommand === 'rebind') {
        only('identities rebind', options, ['database', 'platform', 'user', 'email']);
        noMoreArguments('identities rebind', rest);
        return identitiesRebind(io, options, database, env);
      }
      if (subcommand === 'sync') {
        only('identities sync', options, ['database', 'config', 'allowMassDisable', 'wait']);
        noMoreArguments('identities sync', rest.slice(1));
        return identitiesSyncCommand(io, options, database, rest[0], env);
      }
      if (subcommand === 'show') {
        only('identities show', options, ['database', 'config']);
        if (!rest[0]) throw new UsageError('identities show needs an e-mail address');
        if (!EMAIL.test(rest[0])) throw new UsageError(`identities show: "${rest[0]}" is not an e-mail address`);
        noMoreArguments('identities show', rest.slice(1));
        return identitiesShowCommand(io, options, database, rest[0], env);
      }
      throw new UsageError(subcommand ? `Unknown command "identities ${subcommand}".` : 'identities needs a subcommand: identities list, rebind, sync or show');
    case 'migrate':
      only('migrate', options, ['database']);
      noMoreArguments('migrate', subcommand !== undefined ? [subcommand, ...rest] : rest);
      return migrateCommand(io, database);
    case 'store':
      if (subcommand !== 'copy') throw new UsageError(subcommand ? `Unknown command "store ${subcommand}".` : 'store needs a subcommand: store copy --from sqlite:PATH --to postgres://...');
      only('store copy', options, ['from', 'to']);
      noMoreArguments('store copy', rest);
      return storeCopy(io, options);
    case 'discover':
      return discoverCommand(io, options, database, env, subcommand, rest);
    default:
      throw new UsageError(`Unknown command "${command}".`);
  }
}

/** Runs one command line and gives the exit status; nothing here calls process.exit, so stdout is always flushed. */
async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const io: Io = { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) };
  try {
    return await run(io, argv, env);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`latch: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`latch: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
