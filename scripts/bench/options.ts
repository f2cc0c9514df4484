// How big a bench run is. Every count scales with an environment variable; `--quick` picks
// small defaults for a run of a minute or two while developing.

export interface BenchOptions {
  quick: boolean;
  /** Seconds each steady-load ack run lasts, per rate and kind. */
  ackSeconds: number;
  /** Requests per second of the steady-load ack runs. */
  ackRates: number[];
  /** Approve clicks timed per backend for approve → usable credential. */
  approvals: number;
  /** Grants with spread expiries for the steady expiry lag. */
  spread: number;
  /** Grants due in the same second for the mass expiry. */
  mass: number;
  /** Life cycles (request → approve → grant → revoke) for the throughput figure. */
  cycles: number;
  /** Active grants in the store for the memory figure: the small and the large store. */
  memorySmall: number;
  memoryLarge: number;
}

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, not "${raw}"`);
  return value;
}

export function benchOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  return {
    quick,
    ackSeconds: count('BENCH_ACK_SECONDS', quick ? 3 : 10),
    ackRates: (process.env.BENCH_ACK_RATES ?? '50,200').split(',').map((rate) => Number(rate.trim())).filter((rate) => rate > 0),
    approvals: count('BENCH_APPROVALS', quick ? 5 : 20),
    spread: count('BENCH_SPREAD', quick ? 200 : 1_000),
    mass: count('BENCH_MASS', quick ? 1_000 : 10_000),
    cycles: count('BENCH_CYCLES', quick ? 100 : 500),
    memorySmall: count('BENCH_MEMORY_SMALL', quick ? 2_000 : 10_000),
    memoryLarge: count('BENCH_MEMORY_LARGE', quick ? 20_000 : 100_000),
  };
}
