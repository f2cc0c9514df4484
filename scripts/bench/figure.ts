// One measured figure as the report prints it and results.json keeps it.
import { summarize } from './stats.js';
import type { StoreKind } from './stores.js';

export interface Figure {
  /** Stable key for results.json and the targets; `<store>.<figure>` once the run has said which store it was taken on. */
  key: string;
  /** The store Latch kept its state in while the figure was taken. */
  store?: StoreKind;
  /** What a person reads in the table. */
  name: string;
  unit: 'ms' | 'MB' | 'per s' | 's';
  median: number;
  p99: number;
  count: number;
  /** The same work at its floor (see floors.ts), or null where there is none. */
  floor: { median: number; p99: number } | null;
  /** median / floor median: how many times the floor Latch takes. */
  ratio: number | null;
  /** For a drain: when the last of it was done (ms after the start), which the ratio compares with the floor's total. */
  last?: number;
  /** How the figure was taken when that is not obvious from its name. */
  note?: string;
}

export function figureOf(key: string, name: string, unit: Figure['unit'], samples: readonly number[], floorSamples: readonly number[] | null, note?: string): Figure {
  const own = summarize(samples);
  const floor = floorSamples && floorSamples.length > 0 ? summarize(floorSamples) : null;
  return {
    key, name, unit, median: own.median, p99: own.p99, count: own.count,
    floor: floor ? { median: floor.median, p99: floor.p99 } : null,
    ratio: floor && floor.median > 0 ? own.median / floor.median : null,
    ...(note ? { note } : {}),
  };
}

/** The figure as taken on `store`: its key becomes `<store>.<key>` (e.g. `sqlite.ack.command.200`). */
export function onStore(figure: Figure, store: StoreKind): Figure {
  return { ...figure, key: `${store}.${figure.key}`, store };
}

/** The key without its store: the same figure on every store. */
export function figureKeyOf(figure: Figure): string {
  return figure.store ? figure.key.slice(figure.store.length + 1) : figure.key;
}
