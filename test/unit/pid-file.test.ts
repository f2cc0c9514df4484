import { describe, expect, it } from 'vitest';
import { pidFileFor } from '../../bot/pid-file.js';

describe('pid file location', () => {
  it('sits beside a SQLite store, in ./data for a store that is not a file, and where LATCH_PID_FILE says when set', () => {
    expect(pidFileFor('sqlite:/srv/latch/state/latch.db', undefined)).toBe('/srv/latch/state/latch.pid');
    expect(pidFileFor('postgres://latch@db.internal:5432/latch', undefined)).toBe('data/latch.pid');
    expect(pidFileFor('postgres://latch@db.internal:5432/latch', '/run/latch/a.pid')).toBe('/run/latch/a.pid');
    expect(pidFileFor('sqlite:/srv/latch/state/latch.db', '/run/latch/b.pid')).toBe('/run/latch/b.pid');
    // An empty variable (a unit file's `Environment=LATCH_PID_FILE=`) is the same as none.
    expect(pidFileFor('sqlite:/srv/latch/state/latch.db', ' ')).toBe('/srv/latch/state/latch.pid');
  });
});
