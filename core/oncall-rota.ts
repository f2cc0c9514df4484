// Who a rota kept in the config puts on call at an instant. Pure: the rota, the time zone
// and the instant in, the people out.
import type { Rota } from '../config/schema.js';
import { WEEKDAYS } from '../config/schema.js';
import { fromLocal } from './start-time.js';

const DAY_MS = 86_400_000;

interface LocalNow { year: number; month: number; day: number; minute: number }

function localNow(at: number, timeZone: string): LocalNow {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(at));
  const get = (type: string): number => Number(parts.find((part) => part.type === type)?.value ?? 0);
  return { year: get('year'), month: get('month'), day: get('day'), minute: get('hour') * 60 + get('minute') };
}

const minutesOf = (clock: string): number => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** Calendar days are counted on UTC midnights so a clock change never makes a day 23 or 25 hours long. */
const calendarDay = (year: number, month: number, day: number): number => Date.UTC(year, month - 1, day) / DAY_MS;

/**
 * How many hand-overs happened from the start of `startsOn` up to and including now, in
 * local wall-clock time: a hand-over at 09:00 is at 09:00 in summer and in winter.
 */
export function handoversSince(rota: Rota, timeZone: string, at: number): number {
  const [y, m, d] = rota.startsOn.split('-').map(Number) as [number, number, number];
  const now = localNow(at, timeZone);
  const first = calendarDay(y, m, d);
  const today = calendarDay(now.year, now.month, now.day);
  if (today < first) return 0;
  const days = today - first;
  const weeks = Math.floor(days / 7);
  let count = weeks * rota.handovers.length;
  for (let offset = weeks * 7; offset <= days; offset += 1) {
    const weekday = WEEKDAYS[new Date((first + offset) * DAY_MS).getUTCDay()];
    for (const handover of rota.handovers) {
      if (handover.day !== weekday) continue;
      if (offset < days || minutesOf(handover.at) <= now.minute) count += 1;
    }
  }
  return count;
}

function instantOf(local: string, timeZone: string): number {
  const [date = '', clock = ''] = local.split(/[ T]/);
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return fromLocal(y, m, d, Number(clock.slice(0, 2)), Number(clock.slice(3, 5)), timeZone);
}

/**
 * Who is on call: the override in force (the last one listed wins), else the person whose
 * turn it is. Before the first hand-over nobody is.
 */
export function rotaOnCall(rota: Rota, timeZone: string, at: number): string[] {
  const override = rota.overrides.filter((entry) => instantOf(entry.from, timeZone) <= at && at < instantOf(entry.to, timeZone)).at(-1);
  if (override) return [override.person];
  const count = handoversSince(rota, timeZone, at);
  if (count === 0) return [];
  const person = rota.people[(count - 1) % rota.people.length];
  return person ? [person] : [];
}
