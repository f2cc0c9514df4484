import { describe, expect, it } from 'vitest';
import { formatInstant, parseStartTime } from '../../core/start-time.js';

describe('scheduled start times as people type them', () => {
  const now = Date.parse('2026-12-01T20:30:00Z'); // 21:30 in Berlin (CET)

  it('reads HH:MM as the next such time in the zone: later today, or tomorrow', () => {
    expect(parseStartTime('22:00', now, 'Europe/Berlin')).toBe(Date.parse('2026-12-01T21:00:00Z'));
    expect(parseStartTime('07:15', now, 'Europe/Berlin')).toBe(Date.parse('2026-12-02T06:15:00Z'));
    expect(parseStartTime('22:00', now, 'UTC')).toBe(Date.parse('2026-12-01T22:00:00Z'));
  });

  it('reads a local date and time in the zone, across daylight saving time', () => {
    expect(parseStartTime('2026-12-24 22:00', now, 'Europe/Berlin')).toBe(Date.parse('2026-12-24T21:00:00Z'));
    expect(parseStartTime('2027-07-01 22:00', now, 'Europe/Berlin')).toBe(Date.parse('2027-07-01T20:00:00Z'));
    expect(parseStartTime('2026-12-24T22:00', now, 'America/New_York')).toBe(Date.parse('2026-12-25T03:00:00Z'));
  });

  it('takes an ISO instant with its own zone as written, and refuses what is not a time', () => {
    expect(parseStartTime('2026-12-24T22:00Z', now, 'Europe/Berlin')).toBe(Date.parse('2026-12-24T22:00:00Z'));
    expect(parseStartTime('2026-12-24T22:00+05:30', now, 'UTC')).toBe(Date.parse('2026-12-24T16:30:00Z'));
    for (const text of ['tonight', '25:00', '2026-02-30 10:00', '22', '']) expect(parseStartTime(text, now, 'UTC')).toBeNull();
  });

  it('writes an instant in the zone people read it in', () => {
    expect(formatInstant(Date.parse('2026-12-24T21:00:00Z'), 'Europe/Berlin')).toBe('2026-12-24 22:00 Europe/Berlin');
    expect(formatInstant(Date.parse('2026-12-24T21:00:00Z'), 'UTC')).toBe('2026-12-24 21:00 UTC');
  });
});
