// npm run bench [-- --quick]: how fast Latch acknowledges, grants and revokes, measured from
// outside. Latch runs as its own process (bot/main.ts) against the local PostgreSQL and
// MariaDB and a local Slack Web API double, and is driven only through signed HTTP requests.
// Prints one table with each figure's median, p99 and ratio to its floor, judges the targets
// of issue 10, and writes bench/results.json. What the figures mean: docs/PERFORMANCE.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createBackends } from './bench/backends.js';
import { ADMIN, APPROVER, benchConfig, requester } from './bench/bench-config.js';
import { cleanUp, cleanUpOnSignals, onCleanup } from './bench/cleanup.js';
import type { Figure } from './bench/figure.js';
import { ackUnderLoad } from './bench/figures/ack.js';
import { approveToUsable } from './bench/figures/approve-usable.js';
import { massExpiry, steadyExpiry } from './bench/figures/expiry.js';
import { memoryWithActiveGrants } from './bench/figures/memory.js';
import { lifeCycleThroughput } from './bench/figures/throughput.js';
import { startEmptyServer } from './bench/floors.js';
import { LatchUnderTest } from './bench/latch-under-test.js';
import { inParallel } from './bench/load-generator.js';
import { describeMachine } from './bench/machine.js';
import { benchOptions } from './bench/options.js';
import { judge, table, writeResults } from './bench/report.js';

const RESULTS = resolve('bench/results.json');
const PHASES = ['approve', 'ack', 'throughput', 'expiry', 'mass', 'memory'] as const;
type Phase = (typeof PHASES)[number];
const ACK_SENDERS = 40;
const CYCLE_CONCURRENCY = 16;

/** `BENCH_ONLY=ack,mass` runs some phases (while working on one figure); default all. */
function selectedPhases(): Set<Phase> {
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim()).filter(Boolean);
  if (!only) return new Set(PHASES);
  const unknown = only.filter((name) => !(PHASES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown phase(s) ${unknown.join(', ')}; phases are ${PHASES.join(', ')}`);
  return new Set(only as Phase[]);
}

const say = (text: string): void => void process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  cleanUpOnSignals();
  const options = benchOptions(process.argv.slice(2));
  const phases = selectedPhases();
  const machine = await describeMachine();
  say(`Latch bench${options.quick ? ' (quick)' : ''} on ${machine.cpus} × ${machine.cpuModel}, ${machine.ramGiB} GiB, PostgreSQL ${machine.postgresql}, MariaDB ${machine.mariadb}, load ${machine.loadAverage.join(' ')}`);

  const backends = await createBackends();
  const work = mkdtempSync(join(tmpdir(), 'latch-bench-'));
  onCleanup('temporary directory', () => rmSync(work, { recursive: true, force: true }));

  // Everyone who asks for something is a person of their own, so no request overlaps another.
  let next = 0;
  const people = (count: number) => Array.from({ length: count }, () => requester(next++));
  const senders = people(ACK_SENDERS);
  const approvers = { postgresql: people(options.approvals), mariadb: people(options.approvals) };
  const cyclists = people(options.cycles);
  const spread = people(options.spread);
  const mass = people(options.mass);
  const configFile = join(work, 'latch.yaml');
  writeFileSync(configFile, benchConfig(backends, next));
  const everyone = [...Array.from({ length: next }, (_, n) => requester(n)), APPROVER, ADMIN];

  const figures: Figure[] = [];
  const show = (figure: Figure): void => {
    figures.push(figure);
    say(`  ${figure.name}: median ${figure.median.toFixed(1)} ${figure.unit}, p99 ${figure.p99.toFixed(1)}${figure.ratio !== null ? `, ${figure.ratio.toFixed(2)}× floor` : ''}`);
  };
  const floorServer = await startEmptyServer();
  // BENCH_PROFILE=1: Latch writes a CPU profile to bench/profiles/ when it stops (open it in Chrome DevTools).
  const nodeArgs = process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${resolve('bench/profiles')}`] : [];
  const latch = await LatchUnderTest.start({ configFile, databaseUrl: `sqlite:${join(work, 'latch.db')}`, people: everyone, nodeArgs });
  say(`Latch is running as process ${latch.process.child.pid ?? '?'} on ${latch.process.base}`);

  // First sight binds each sender's Slack account; that is not what the ack figures measure.
  await inParallel(senders.length, 8, async (index) => {
    const sent = await latch.command((senders[index] as { slackId: string }).slackId, 'list');
    await latch.replyTo(sent.responseUrl);
  });

  let decided: string | undefined;
  if (phases.has('approve') || phases.has('ack')) {
    say('approve → usable credential');
    for (const backend of ['postgresql', 'mariadb'] as const) {
      const { figure, approved } = await approveToUsable(latch, backends, backend, phases.has('approve') ? approvers[backend] : approvers[backend].slice(0, 1));
      if (phases.has('approve')) show(figure);
      decided ??= approved[0];
    }
  }
  if (phases.has('ack') && decided) {
    await latch.settle();
    say('ack latency under steady load');
    for (const rate of options.ackRates) {
      for (const kind of ['command', 'click'] as const) {
        await latch.settle();
        show(await ackUnderLoad({ latch, floorUrl: floorServer.url, senders: senders.map((s) => s.slackId), decidedRequestId: decided }, kind, rate, options.ackSeconds));
      }
    }
  }
  // How fast Latch grants without approval, to leave the mass expiry enough time between its
  // scheduled start and its expiry (BENCH_MASS_GRANT_RATE overrides what the phases before measured).
  let grantsPerSecond = Number(process.env.BENCH_MASS_GRANT_RATE ?? 0);
  if (phases.has('throughput')) {
    await latch.settle();
    say('life-cycle throughput');
    const { rate, cycle, perSecond } = await lifeCycleThroughput(latch, backends, cyclists, CYCLE_CONCURRENCY);
    show(rate);
    show(cycle);
    // A grant without approval, notification cards or revoke is a fraction of a whole life cycle.
    grantsPerSecond ||= perSecond * 3;
  }
  if (phases.has('expiry')) {
    await latch.settle();
    say(`steady expiry (${spread.length} grants, expiring over about a minute)`);
    show(await steadyExpiry(latch, backends, spread));
  }
  if (phases.has('mass')) {
    await latch.settle();
    say(`mass expiry (${mass.length} grants due in one second)`);
    const { lag, ackDuringDrain } = await massExpiry(latch, backends, mass, {
      grantsPerSecond: grantsPerSecond || 30, floorBatch: Number(process.env.BENCH_FLOOR_BATCH ?? 100), floorConnections: Number(process.env.BENCH_FLOOR_CONNECTIONS ?? 4),
      senders: senders.map((s) => s.slackId), floorUrl: floorServer.url,
    });
    show(lag);
    show(ackDuringDrain);
  }
  await latch.stop();
  if (phases.has('memory')) {
    say(`memory (${options.memorySmall} and ${options.memoryLarge} active grants, seeded)`);
    const memory = await memoryWithActiveGrants({ configFile, databaseFile: join(work, 'memory.db'), backends, slack: latch.slack, small: options.memorySmall, large: options.memoryLarge });
    show(memory.small);
    show(memory.large);
    show(memory.growth);
  }

  const targets = judge(figures);
  say('');
  say(table(figures, targets));
  writeResults(RESULTS, { at: new Date().toISOString(), quick: options.quick, options, machine, figures, targets });
  say(`\nWritten to ${RESULTS}.`);
}

main().then(() => cleanUp(), async (error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  await cleanUp();
  process.exitCode = 1;
});
