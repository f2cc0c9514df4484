import { describe, expect, it } from 'vitest';
import { csvCell, parseSince } from '../../storage/audit-report.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('--since', () => {
  it('reads a date or a time as UTC unless it names a zone', () => {
    expect(parseSince('2026-11-01', NOW)).toBe(Date.UTC(2026, 10, 1));
    expect(parseSince('2026-11-01T10:00Z', NOW)).toBe(Date.UTC(2026, 10, 1, 10, 0));
    expect(parseSince('2026-11-01T10:00', NOW)).toBe(Date.UTC(2026, 10, 1, 10, 0));
    expect(parseSince('2026-11-01 10:00:30', NOW)).toBe(Date.UTC(2026, 10, 1, 10, 0, 30));
    expect(parseSince('2026-11-01T10:00:30.250Z', NOW)).toBe(Date.UTC(2026, 10, 1, 10, 0, 30, 250));
    expect(parseSince('2026-11-01T12:00+02:00', NOW)).toBe(Date.UTC(2026, 10, 1, 10, 0));
    expect(parseSince('2026-11-01T05:00-0500', NOW)).toBe(Date.UTC(2026, 10, 1, 10, 0));
    expect(parseSince('2028-02-29', NOW)).toBe(Date.UTC(2028, 1, 29));
  });

  it('reads a duration as that long before now', () => {
    expect(parseSince('7d', NOW)).toBe(NOW - 7 * 86_400_000);
    expect(parseSince('24h', NOW)).toBe(NOW - 86_400_000);
    expect(parseSince('1h30m', NOW)).toBe(NOW - 5_400_000);
    expect(parseSince('2w', NOW)).toBe(NOW - 14 * 86_400_000);
  });

  it('refuses anything else, including dates that do not exist', () => {
    for (const text of ['', 'yesterday', 'last tuesday', '0d', '7', '2026-02-30', '2027-02-29', '2026-13-01', '2026-11-01T24:00Z', '2026-11-01T10:60Z', '2026-11-01T10:00+25:00', '11/01/2026', '2026-11-1']) {
      expect(parseSince(text, NOW), text).toBeNull();
    }
  });
});

describe('CSV cells', () => {
  it('quote what RFC 4180 says must be quoted', () => {
    expect(csvCell('plain text')).toBe('plain text');
    expect(csvCell('')).toBe('');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
  });

  it('keep anything a spreadsheet would run as a formula as text', () => {
    expect(csvCell('=1+2')).toBe("'=1+2");
    expect(csvCell('+1 on the incident')).toBe("'+1 on the incident");
    expect(csvCell('-ERR refused')).toBe("'-ERR refused");
    expect(csvCell('@SUM(A1:A9)')).toBe("'@SUM(A1:A9)");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('=HYPERLINK("http://evil.example","x")')).toBe(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    // Only the first character counts.
    expect(csvCell('a=b')).toBe('a=b');
    expect(csvCell('2026-11-01T10:00:00.000Z')).toBe('2026-11-01T10:00:00.000Z');
  });
});
