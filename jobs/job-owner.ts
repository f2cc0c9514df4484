// Who holds a job claim. The owner id names the host and process it runs in, so that a
// Latch started after a crash on the same host can tell that the claims its predecessor
// left are held by nobody and take them at once, instead of waiting out their lease.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

const OWNER = /^latch@(.+)#(\d+)#[0-9a-f]{8}$/;

// Owners made in this process: several Latches embedded in one process share its pid and are all alive.
const minted = new Set<string>();

export function localOwnerId(): string {
  const owner = `latch@${hostname()}#${process.pid}#${randomUUID().slice(0, 8)}`;
  minted.add(owner);
  return owner;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `owner` ran on this host in a process that no longer exists. A claim from
 * another host, or one whose process may still run, is left to its lease. An owner with
 * our own pid that this process did not make is a previous incarnation (a container
 * restarted as pid 1).
 */
export function isDeadLocalOwner(owner: string, self: string, alive: (pid: number) => boolean = pidAlive, host: string = hostname()): boolean {
  if (owner === self) return false;
  const match = OWNER.exec(owner);
  if (!match || match[1] !== host) return false;
  const pid = Number(match[2]);
  return pid === process.pid ? !minted.has(owner) : !alive(pid);
}
