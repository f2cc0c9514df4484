// When a scheduled request starts, from what a person typed: `22:00` (the next time it is
// 22:00 in the configured zone), `2026-12-24 22:00` (in that zone) or an ISO instant with its
// own zone (`2026-12-24T22:00Z`, `...+01:00`). Pure.

const CLOCK = /^([01]?[0-9]|2[0-3]):([0-5][0-9])$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ]([01][0-9]|2[0-3]):([0-5][0-9])$/;
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** Minutes the zone is ahead of UTC at `at`. */
function zoneOffsetMinutes(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(at));
  const get = (type: string): number => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  return Math.round((asUtc - Math.floor(at / 60_000) * 60_000) / 60_000);
}

/** The instant a wall-clock time in `timeZone` names (the earlier one where a clock change makes two). */
export function fromLocal(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const first = guess - zoneOffsetMinutes(guess, timeZone) * 60_000;
  return guess - zoneOffsetMinutes(first, timeZone) * 60_000;
}

function localDate(at: number, timeZone: string): { year: number; month: number; day: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(at));
  const get = (type: string): number => Number(parts.find((part) => part.type === type)?.value ?? 0);
  return { year: get('year'), month: get('month'), day: get('day') };
}

export function parseStartTime(text: string, now: number, timeZone: string): number | null {
  const value = text.trim();
  if (ZONED.test(value)) {
    const at = Date.parse(value);
    return Number.isNaN(at) ? null : at;
  }
  const local = LOCAL.exec(value);
  if (local) {
    const [, y, mo, d, h, mi] = local.map(Number) as [number, number, number, number, number, number];
    const at = fromLocal(y, mo, d, h, mi, timeZone);
    const check = localDate(at, timeZone);
    return check.month === mo && check.day === d ? at : null;
  }
  const clock = CLOCK.exec(value);
  if (clock) {
    const hour = Number(clock[1]);
    const minute = Number(clock[2]);
    const today = localDate(now, timeZone);
    const at = fromLocal(today.year, today.month, today.day, hour, minute, timeZone);
    if (at > now) return at;
    const tomorrow = localDate(now + 86_400_000, timeZone);
    return fromLocal(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, timeZone);
  }
  return null;
}

export function formatInstant(at: number, timeZone: string): string {
  const text = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(at)).replace(',', '');
  return `${text} ${timeZone === 'UTC' ? 'UTC' : timeZone}`;
}
