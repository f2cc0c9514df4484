// Durations are written by people ("90m", "1h30m", "2d") and kept as milliseconds.
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_PATTERN = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export function parseDuration(text: string): number | null {
  const compact = text.trim().toLowerCase().replace(/\s+/g, '');
  if (compact === '') return null;
  const match = DURATION_PATTERN.exec(compact);
  if (!match) return null;
  const units: Unit[] = ['w', 'd', 'h', 'm', 's'];
  let total = 0;
  let seen = false;
  units.forEach((unit, index) => {
    const amount = match[index + 1];
    if (amount !== undefined) {
      seen = true;
      total += Number(amount) * UNIT_MS[unit];
    }
  });
  return seen && total > 0 && Number.isSafeInteger(total) ? total : null;
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.round(ms / 1000) * 1000;
  const parts: string[] = [];
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) {
      parts.push(`${amount}${unit}`);
      rest -= amount * UNIT_MS[unit];
    }
  }
  return parts.length > 0 ? parts.join('') : '1s';
}
