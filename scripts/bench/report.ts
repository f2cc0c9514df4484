// The one table the bench prints, the targets of issue 10 with PASS/MISS, and bench/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Figure } from './figure.js';

export interface Target {
  name: string;
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

export function judge(figures: readonly Figure[]): Target[] {
  return TARGETS.map((rule) => {
    const figure = figures.find((candidate) => candidate.key === rule.figure);
    const value = figure ? rule.read(figure) : null;
    return { name: rule.name, figure: rule.figure, value, limit: rule.limit, unit: rule.unit, pass: value !== null && Number.isFinite(value) && value < rule.limit };
  });
}

const number = (value: number | null | undefined, digits = 1): string => (value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits));

export function table(figures: readonly Figure[], targets: readonly Target[]): string {
  const widths = [58, 10, 10, 11, 8, 8];
  const row = (cells: string[]): string => cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[index] ?? 0))).join(' ');
  const lines = [row(['figure', 'median', 'p99', 'floor p50', 'ratio', 'n']), '-'.repeat(widths.reduce((a, b) => a + b + 1, 0))];
  for (const figure of figures) {
    const digits = figure.unit === 'ms' ? 1 : 2;
    lines.push(row([`${figure.name} [${figure.unit}]`, number(figure.median, digits), number(figure.p99, digits), number(figure.floor?.median, digits), figure.ratio === null ? '–' : `${figure.ratio.toFixed(2)}×`, String(figure.count)]));
    if (figure.note) lines.push(`    ${figure.note}`);
  }
  lines.push('', 'targets (issue 10):');
  for (const target of targets) lines.push(`  ${target.pass ? 'PASS' : 'MISS'}  ${target.name}: ${number(target.value, target.unit === '×' ? 2 : 1)} ${target.unit} (limit ${target.limit} ${target.unit})`);
  return lines.join('\n');
}

export function writeResults(path: string, content: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`);
}
