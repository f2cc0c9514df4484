// The one table the bench prints (a column group per store), the targets of issue 10 with
// PASS/MISS on each store, and bench/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { figureKeyOf, type Figure } from './figure.js';
import type { StoreKind } from './stores.js';

export interface Target {
  name: string;
  /** The store the target was judged on. */
  store: StoreKind;
  /** The key of the figure it reads (`<store>.<figure>`). */
  figure: string;
  /** The measured value the target is judged on, and the limit it must stay under. */
  value: number | null;
  limit: number;
  unit: string;
  pass: boolean;
}

interface TargetRule {
  name: string;
  figure: string;
  read: (figure: Figure) => number | null;
  limit: number;
  unit: string;
}

const TARGETS: TargetRule[] = [
  { name: 'ack p99 < 100 ms at 200/s (slash command)', figure: 'ack.command.200', read: (f) => f.p99, limit: 100, unit: 'ms' },
  { name: 'ack p99 < 100 ms at 200/s (button click)', figure: 'ack.click.200', read: (f) => f.p99, limit: 100, unit: 'ms' },
  { name: 'approve → usable p50 within 2× floor (PostgreSQL)', figure: 'approve_to_usable.postgresql', read: (f) => f.ratio, limit: 2, unit: '×' },
  { name: 'approve → usable p50 within 2× floor (MariaDB)', figure: 'approve_to_usable.mariadb', read: (f) => f.ratio, limit: 2, unit: '×' },
  { name: 'steady expiry lag p99 < 1 s', figure: 'expiry.steady', read: (f) => f.p99, limit: 1_000, unit: 'ms' },
  { name: 'mass expiry all revoked within 2 s', figure: 'expiry.mass', read: (f) => f.last ?? null, limit: 2_000, unit: 'ms' },
  { name: 'RSS growth 10k → 100k active grants < 20 MB', figure: 'memory.rss.growth', read: (f) => f.median, limit: 20, unit: 'MB' },
];

/** Every target on every store, in the order of the rules; a figure that was not taken is a MISS with no value. */
export function judge(figures: readonly Figure[], stores: readonly StoreKind[]): Target[] {
  return TARGETS.flatMap((rule) => stores.map((store) => {
    const key = `${store}.${rule.figure}`;
    const figure = figures.find((candidate) => candidate.key === key);
    const value = figure ? rule.read(figure) : null;
    return { name: rule.name, store, figure: key, value, limit: rule.limit, unit: rule.unit, pass: value !== null && Number.isFinite(value) && value < rule.limit };
  }));
}

const number = (value: number | null | undefined, digits = 1): string => (value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits));

const NAME = 58;
const CELLS = [10, 10, 8] as const;
const GROUP = CELLS.reduce((a, b) => a + b + 1, 0) + 2;

/** One line: the name, then for each store a group of cells, right-aligned, two spaces apart. */
function line(name: string, groups: readonly (readonly string[])[]): string {
  return `${name.padEnd(NAME)} ${groups.map((cells) => `  ${cells.map((cell, index) => cell.padStart(CELLS[index] ?? 0)).join(' ')}`).join('')}`.trimEnd();
}

export function table(figures: readonly Figure[], targets: readonly Target[], stores: readonly StoreKind[]): string {
  // Rows in the order the figures were first taken; each row holds the same figure on every store.
  const rows = new Map<string, Map<StoreKind | undefined, Figure>>();
  for (const figure of figures) {
    const key = figureKeyOf(figure);
    const row = rows.get(key) ?? new Map<StoreKind | undefined, Figure>();
    row.set(figure.store, figure);
    rows.set(key, row);
  }
  const lines = [
    `${''.padEnd(NAME)} ${stores.map((store) => `  ${store.padStart(GROUP - 2)}`).join('')}`,
    line('figure', stores.map(() => ['median', 'p99', 'ratio'])),
    '-'.repeat(NAME + 1 + GROUP * stores.length),
  ];
  for (const row of rows.values()) {
    const first = [...row.values()][0] as Figure;
    const digits = first.unit === 'ms' ? 1 : 2;
    lines.push(line(`${first.name} [${first.unit}]`, stores.map((store) => {
      const figure = row.get(store);
      if (!figure) return ['–', '–', '–'];
      return [number(figure.median, digits), number(figure.p99, digits), figure.ratio === null ? '–' : `${figure.ratio.toFixed(2)}×`];
    })));
    const notes = stores.map((store) => [store, row.get(store)?.note] as const).filter((entry): entry is readonly [StoreKind, string] => Boolean(entry[1]));
    // A note that reads the same on every store is said once.
    if (notes.length > 1 && notes.every(([, note]) => note === notes[0]?.[1])) lines.push(`    ${notes[0]?.[1] ?? ''}`);
    else for (const [store, note] of notes) lines.push(`    ${store}: ${note}`);
  }
  lines.push('', 'targets (issue 10):');
  const byRule = new Map<string, Map<StoreKind, Target>>();
  for (const target of targets) byRule.set(target.name, (byRule.get(target.name) ?? new Map<StoreKind, Target>()).set(target.store, target));
  for (const [name, byStore] of byRule) {
    const cells = stores.map((store) => {
      const target = byStore.get(store);
      if (!target) return '';
      if (target.value === null) return 'not taken';
      return `${target.pass ? 'PASS' : 'MISS'} ${number(target.value, target.unit === '×' ? 2 : 1)} ${target.unit}`;
    });
    const limit = [...byStore.values()][0];
    lines.push(`${`  ${name}`.padEnd(NAME)} ${cells.map((cell) => `  ${cell.padStart(GROUP - 2)}`).join('')}${limit ? `   (limit ${limit.limit} ${limit.unit})` : ''}`);
  }
  return lines.join('\n');
}

export function writeResults(path: string, content: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`);
}
