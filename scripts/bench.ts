// npm run bench [-- --quick]: how fast Latch acknowledges, grants and revokes, measured from
// outside. Latch runs as its own process (bot/main.ts) against the local PostgreSQL and
// MariaDB and a local Slack Web API double, and is driven only through signed HTTP requests.
// Every phase runs once per store Latch keeps its state in (BENCH_STORES: SQLite, then
// PostgreSQL). Prints one table with each figure's median, p99 and ratio to its floor for each
// store side by side, judges the targets of issue 10 per store, and writes bench/results.json.
// What the figures mean: docs/PERFORMANCE.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createBackends } from './bench/backends.js';
import { ADMIN, APPROVER, benchConfig, requester } from './bench/bench-config.js';
import { cleanUp, cleanUpOnSignals, onCleanup } from './bench/cleanup.js';
import { onStore, type Figure } from './bench/figure.js';
import { ackUnderLoad } from './bench/figures/ack.js';
import { approveToUsable, type Backend } from './bench/figures/approve-usable.js';
import { massExpiry, steadyExpiry } from './bench/figures/expiry.js';
import { memoryWithActiveGrants } from './bench/figures/memory.js';
import { lifeCycleThroughput } from './bench/figures/throughput.js';
import { startEmptyServer } from './bench/floors.js';
import { LatchUnderTest } from './bench/latch-under-test.js';
import { inParallel } from './bench/load-generator.js';
import { describeMachine } from './bench/machine.js';
import { benchOptions, type BenchOptions } from './bench/options.js';
import { judge, table, writeResults } from './bench/report.js';
import { createStore, type StoreKind } from './bench/stores.js';

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

interface Run {
  options: BenchOptions;
  phases: Set<Phase>;
  work: string;
  floorUrl: string;
  people: People;
  /** Where each figure goes as it is taken (printed and kept for the table). */
  show: (figure: Figure) => void;
}

/** The bench's people: who sends the ack load, who asks for each phase. The same on every store. */
interface People {
  senders: { slackId: string; email: string }[];
  approvers: Record<Backend, { slackId: string; email: string }[]>;
  cyclists: { slackId: string; email: string }[];
  spread: { slackId: string; email: string }[];
  mass: { slackId: string; email: string }[];
  requesters: number;
  everyone: { slackId: string; email: string }[];
}

function peopleFor(options: BenchOptions): People {
  // Everyone who asks for something is a person of their own, so no request overlaps another.
  let next = 0;
  const people = (count: number) => Array.from({ length: count }, () => requester(next++));
  const senders = people(ACK_SENDERS);
  const approvers = { postgresql: people(options.approvals), mariadb: people(options.approvals) };
  const cyclists = people(options.cycles);
  const spread = people(options.spread);
  const mass = people(options.mass);
  const everyone = [...Array.from({ length: next }, (_, n) => requester(n)), APPROVER, ADMIN];
  return { senders, approvers, cyclists, spread, mass, requesters: next, everyone };
}

/**
 * Every selected phase with Latch on one store. The store gets a Latch process, Slack double,
 * databases, read role and instance prefix of its own, so nothing one run made (roles left
 * for reconcile, bound identities, jobs) is seen by the other.
 */
async function runOnStore(kind: StoreKind, run: Run): Promise<void> {
  const { options, phases, work, people } = run;
  const show = (figure: Figure): void => run.show(onStore(figure, kind));
  say(`\n== store: ${kind} ==`);
  const backends = await createBackends();
  const configFile = join(work, `${kind}.yaml`);
  writeFileSync(configFile, benchConfig(backends, people.requesters));
  const store = await createStore(kind, work, 'latch');
  // BENCH_PROFILE=1: Latch writes a CPU profile to bench/profiles/ when it stops (open it in Chrome DevTools).
  const nodeArgs = process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${resolve('bench/profiles')}`] : [];
  const latch = await LatchUnderTest.start({ configFile, databaseUrl: store.url, people: people.everyone, nodeArgs });
  say(`Latch is running as process ${latch.process.child.pid ?? '?'} on ${latch.process.base}, its store ${store.where}`);

  // First sight binds each sender's Slack account; that is not what the ack figures measure.
  const { senders } = people;
  await inParallel(senders.length, 8, async (index) => {
    const sent = await latch.command((senders[index] as { slackId: string }).slackId, 'list');
    await latch.replyTo(sent.responseUrl);
  });

  let decided: string | undefined;
  if (phases.has('approve') || phases.has('ack')) {
    say('approve → usable credential');
    for (const backend of ['postgresql', 'mariadb'] as const) {
      const { figure, approved } = await approveToUsable(latch, backends, backend, phases.has('approve') ? people.approvers[backend] : people.approvers[backend].slice(0, 1));
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
        show(await ackUnderLoad({ latch, floorUrl: run.floorUrl, senders: senders.map((s) => s.slackId), decidedRequestId: decided }, kind, rate, options.ackSeconds));
      }
    }
  }
  // How fast Latch grants without approval, to leave the mass expiry enough time between its
  // scheduled start and its expiry (BENCH_MASS_GRANT_RATE overrides what the phases before measured).
  let grantsPerSecond = Number(process.env.BENCH_MASS_GRANT_RATE ?? 0);
  if (phases.has('throughput')) {
    await latch.settle();
    say('life-cycle throughput');
    const { rate, cycle, perSecond } = await lifeCycleThroughput(latch, backends, people.cyclists, CYCLE_CONCURRENCY);
    show(rate);
    show(cycle);
    // A grant without approval, notification cards or revoke is a fraction of a whole life cycle.
    grantsPerSecond ||= perSecond * 3;
  }
  if (phases.has('expiry')) {
    await latch.settle();
    say(`steady expiry (${people.spread.length} grants, expiring over about a minute)`);
    show(await steadyExpiry(latch, backends, people.spread));
  }
  if (phases.has('mass')) {
    await latch.settle();
    say(`mass expiry (${people.mass.length} grants due in one second)`);
    const { lag, ackDuringDrain } = await massExpiry(latch, backends, people.mass, {
      grantsPerSecond: grantsPerSecond || 30, floorBatch: Number(process.env.BENCH_FLOOR_BATCH ?? 100), floorConnections: Number(process.env.BENCH_FLOOR_CONNECTIONS ?? 4),
      senders: senders.map((s) => s.slackId), floorUrl: run.floorUrl,
    });
    show(lag);
    show(ackDuringDrain);
  }
  await latch.stop();
  if (phases.has('memory')) {
    say(`memory (${options.memorySmall} and ${options.memoryLarge} active grants, seeded)`);
    const memoryStore = await createStore(kind, work, 'memory');
    const memory = await memoryWithActiveGrants({ configFile, store: memoryStore, backends, slack: latch.slack, small: options.memorySmall, large: options.memoryLarge });
    show(memory.small);
    show(memory.large);
    show(memory.growth);
  }
}

async function main(): Promise<void> {
  cleanUpOnSignals();
  const options = benchOptions(process.argv.slice(2));
  const phases = selectedPhases();
  const machine = await describeMachine();
  say(`Latch bench${options.quick ? ' (quick)' : ''} on ${machine.cpus} × ${machine.cpuModel}, ${machine.ramGiB} GiB, PostgreSQL ${machine.postgresql}, MariaDB ${machine.mariadb}, load ${machine.loadAverage.join(' ')}; stores: ${options.stores.join(', ')}`);

  const work = mkdtempSync(join(tmpdir(), 'latch-bench-'));
  onCleanup('temporary directory', () => rmSync(work, { recursive: true, force: true }));
  const floorServer = await startEmptyServer();
  const figures: Figure[] = [];
  const run: Run = {
    options, phases, work, floorUrl: floorServer.url, people: peopleFor(options),
    show: (figure) => {
      figures.push(figure);
      say(`  ${figure.name}: median ${figure.median.toFixed(1)} ${figure.unit}, p99 ${figure.p99.toFixed(1)}${figure.ratio !== null ? `, ${figure.ratio.toFixed(2)}× floor` : ''}`);
    },
  };
  // One store after the other, never side by side: each has the two cores to itself.
  for (const kind of options.stores) await runOnStore(kind, run);

  const targets = judge(figures, options.stores);
  say('');
  say(table(figures, targets, options.stores));
  writeResults(RESULTS, { at: new Date().toISOString(), quick: options.quick, stores: options.stores, options, machine, figures, targets });
  say(`\nWritten to ${RESULTS}.`);
}

main().then(() => cleanUp(), async (error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  await cleanUp();
  process.exitCode = 1;
});
