// How big a bench run is. Every count scales with an environment variable; `--quick` picks
// small defaults for a run of a minute or two while developing. BENCH_STORES names the stores
// Latch keeps its state in, one whole run of the phases each.
import { STORE_KINDS, type StoreKind } from './stores.js';

export interface BenchOptions {
  quick: boolean;
  /** The stores every phase runs on, in this order. */
  stores: StoreKind[];
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

/** `BENCH_STORES=sqlite,postgres` (the default), or one of them. */
function stores(): StoreKind[] {
  const raw = process.env.BENCH_STORES ?? '';
  const named = raw.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (named.length === 0) return [...STORE_KINDS];
  const unknown = named.filter((name) => !(STORE_KINDS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_STORES: unknown store(s) ${unknown.join(', ')}; use sqlite, postgres or sqlite,postgres, not "${raw}"`);
  // Always in the same order, so the table's columns and the runs do not depend on how it was typed.
  return STORE_KINDS.filter((kind) => named.includes(kind));
}

export function benchOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  return {
    quick,
    stores: stores(),
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
