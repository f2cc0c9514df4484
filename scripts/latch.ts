// The `latch` command line: npm run latch -- <command>. Exit 0 when all is well, 1 when
// something was found wrong, 2 when the command itself was not understood.
import { defaultProvisioners } from '../bot/latch.js';
import { integrationsHealth } from '../bot/integration-health.js';
import { directoryFromConfig } from '../config/directory.js';
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../config/load.js';
import { formatConfigErrors } from '../config/parse.js';
import { parseDuration } from '../core/duration.js';
import { accessRecords, toCsv, toJson } from '../storage/audit-export.js';
import { verifyAuditChain } from '../storage/audit-chain.js';
import { DEFAULT_DATABASE_URL, openStore } from '../storage/open-store.js';

const USAGE = `Usage: npm run latch -- <command>

  config check FILE                          check a config file; prints file:line:column key: message for each mistake
  audit verify [--database URL]              verify the audit chain; names the first broken event
  audit export --since WHEN --format csv|json [--database URL]
                                             who asked, why, who decided, what was granted where, how it ended
                                             WHEN: a date (2026-11-01), a time (2026-11-01T10:00Z) or a duration back from now (7d, 24h)
  integrations status [--config FILE]        can Latch provision in each integration, and how fast it last did
  migrate [--database URL]                   apply store migrations
  help                                       this text

DATABASE_URL and LATCH_CONFIG are read from the environment when the options are not given.`;

class UsageError extends Error {}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value.`);
  args.splice(at, 2);
  return value;
}

function noMore(args: string[]): void {
  if (args.length > 0) throw new UsageError(`Unexpected: ${args.join(' ')}`);
}

export function parseSince(text: string, now: number): number | null {
  const back = parseDuration(text);
  if (back !== null) return now - back;
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return null;
  const at = Date.parse(/T|\s/.test(text) ? text : `${text}T00:00:00Z`);
  return Number.isNaN(at) ? null : at;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const [group, verb] = [args.shift(), args[0]];
  const database = (): string => option(args, 'database') ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  switch (group) {
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'config': {
      args.shift();
      const file = args.shift();
      if (verb !== 'check' || !file) throw new UsageError('Say which file to check: config check FILE');
      noMore(args);
      const loaded = loadConfigFile(file);
      if (!loaded.ok) {
        process.stdout.write(`${formatConfigErrors(loaded.errors)}\n`);
        return 1;
      }
      process.stdout.write(`${file}: OK (${loaded.config.flows.length} flows, ${loaded.config.integrations.length} integrations)\n`);
      return 0;
    }
    case 'audit': {
      args.shift();
      if (verb === 'verify') {
        const url = database();
        noMore(args);
        const store = await openStore(url);
        try {
          const verdict = await verifyAuditChain(store);
          if (verdict.ok) {
            process.stdout.write(`audit chain OK: ${verdict.count} events, last hash ${verdict.lastHash}\n`);
            return 0;
          }
          const { seq, type, at, reason } = verdict.firstBroken;
          process.stdout.write(`audit chain BROKEN at event #${seq} (${type} at ${new Date(at).toISOString()}): ${reason}\n`);
          return 1;
        } finally {
          await store.close();
        }
      }
      if (verb === 'export') {
        const sinceText = option(args, 'since');
        const format = option(args, 'format') ?? 'csv';
        const url = database();
        noMore(args);
        if (!sinceText) throw new UsageError('Say from when: --since 2026-11-01 or --since 30d');
        const since = parseSince(sinceText, Date.now());
        if (since === null) throw new UsageError(`"${sinceText}" is neither a date nor a duration.`);
        if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, not "${format}".`);
        const store = await openStore(url);
        try {
          const records = accessRecords(await store.auditEvents({ limit: Number.MAX_SAFE_INTEGER }), since);
          process.stdout.write(format === 'csv' ? toCsv(records) : toJson(records));
          return 0;
        } finally {
          await store.close();
        }
      }
      throw new UsageError('audit takes verify or export.');
    }
    case 'integrations': {
      args.shift();
      if (verb !== 'status') throw new UsageError('integrations takes status.');
      const file = option(args, 'config') ?? process.env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE;
      noMore(args);
      const loaded = loadConfigFile(file);
      if (!loaded.ok) {
        process.stdout.write(`${formatConfigErrors(loaded.errors)}\n`);
        return 1;
      }
      const provisioners = defaultProvisioners(process.env);
      const active = { config: loaded.config, directory: directoryFromConfig(loaded.config), hash: loaded.hash, file };
      try {
        const report = await integrationsHealth({ current: () => active, provisioners });
        for (const entry of report) {
          process.stdout.write(`${entry.ok ? 'OK  ' : 'FAIL'} ${entry.integration} (${entry.type})\n`);
          for (const check of entry.checks) process.stdout.write(`     ${check.ok ? '✓' : '✗'} ${check.name}${check.detail ? `: ${check.detail}` : ''}\n`);
        }
        return report.every((entry) => entry.ok) ? 0 : 1;
      } finally {
        await provisioners.close();
      }
    }
    case 'migrate': {
      const url = database();
      noMore(args);
      const store = await openStore(url);
      await store.close();
      process.stdout.write(`migrations applied to ${url.replace(/\/\/[^@/]*@/, '//***@')}\n`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown command "${group}".`);
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`latch: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
