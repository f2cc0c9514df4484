// The running server's process id, kept next to its store, so `latch config reload` (and a
// service manager's ExecReload) can find the process to send SIGHUP to.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_DATABASE_URL } from '../storage/open-store.js';

export const PID_FILE_NAME = 'latch.pid';

/**
 * `LATCH_PID_FILE` when set (two instances on one host, each with its own); else `latch.pid`
 * in the directory of the SQLite store; for a store that is not a file, in ./data.
 */
export function pidFileFor(databaseUrl: string, configured: string | undefined = process.env.LATCH_PID_FILE): string {
  if (configured !== undefined && configured.trim() !== '') return configured;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(databaseUrl)?.[1];
  const path = databaseUrl.replace(/^(sqlite|file):(\/\/)?/, '');
  const local = (!scheme || /^(sqlite|file)$/i.test(scheme)) && path !== ':memory:';
  return join(dirname(local ? path : DEFAULT_DATABASE_URL.replace(/^sqlite:/, '')), PID_FILE_NAME);
}

export function writePidFile(file: string, pid = process.pid): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

export function readPidFile(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Removes the file if it still names this process (another Latch may have started since). */
export function removePidFile(file: string, pid = process.pid): void {
  if (readPidFile(file) === pid) rmSync(file, { force: true });
}
