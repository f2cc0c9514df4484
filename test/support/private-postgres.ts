import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PgServer } from './postgres.js';

// A throwaway PostgreSQL cluster of a test file's own, for the tests that must see the
// server check a password. The machine's server trusts 127.0.0.1, so a login there proves
// nothing about the password Latch delivered; this one asks every TCP login for
// scram-sha-256 and logs every DDL statement and connection to a file the test reads.
//
// No binaries means a failing test, never a skip (also when CI=true): startPrivatePostgres
// throws and beforeAll fails with what is missing.
//
// PostgreSQL refuses to run as root, and tests run as root here and in CI: then initdb and
// pg_ctl run as the OS user postgres, which owns the temp directory.
//
// No cluster outlives its test process. A watchdog in a session of its own holds the read
// end of a pipe whose write end only the test process has; it is the one that stops the
// cluster (pg_ctl stop -m immediate) and removes the directory, when stop() closes the pipe
// or when the test process dies in any way, SIGKILL included, since the kernel closes the
// pipe then.

export interface PrivatePostgres extends PgServer {
  host: '127.0.0.1';
  port: number;
  /** The superuser, which logs in over TCP with `password` like everyone else. */
  user: string;
  password: string;
  /** Major version of the binaries, e.g. 15. */
  version: number;
  /** The temp directory: data directory, unix socket and log live here. */
  directory: string;
  /** The server's log (log_statement = ddl, log_connections = on). */
  logFile: string;
  /** The log from byte `from` on. */
  log(from?: number): string;
  logSize(): number;
  /** How long initdb and the start took. */
  startupMs: number;
  /** Stops the cluster and removes its directory; throws if either is still there. */
  stop(): Promise<void>;
}

const POSTGRES_ROOT = '/usr/lib/postgresql';
const OS_USER = 'postgres';
const SUPERUSER = 'postgres';
const asRoot = process.getuid?.() === 0;

/** initdb and pg_ctl: LATCH_TEST_PG_BINDIR, else the newest version under /usr/lib/postgresql. */
function findBinaries(): { bin: string; version: number } {
  const override = process.env.LATCH_TEST_PG_BINDIR;
  const candidates = override
    ? [override]
    : (existsSync(POSTGRES_ROOT) ? readdirSync(POSTGRES_ROOT) : [])
      .filter((entry) => /^\d+$/.test(entry))
      .sort((a, b) => Number(b) - Number(a))
      .map((entry) => join(POSTGRES_ROOT, entry, 'bin'));
  const bin = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'postgres')));
  if (!bin) {
    throw new Error(`private PostgreSQL: no server binaries (initdb, pg_ctl, postgres) in ${override ?? `${POSTGRES_ROOT}/<version>/bin`}; `
      + 'install the PostgreSQL server package (Debian: postgresql-15) or set LATCH_TEST_PG_BINDIR. These tests do not skip.');
  }
  const version = /\(PostgreSQL\) (\d+)/.exec(run(join(bin, 'pg_ctl'), ['--version'], { asPostgres: false }).stdout)?.[1];
  return { bin, version: Number(version ?? 0) };
}

function osUser(): { uid: number; gid: number } | null {
  if (!asRoot) return null;
  const found = spawnSync('id', ['-u', OS_USER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', OS_USER], { encoding: 'utf8' });
  if (found.status !== 0 || gid.status !== 0) {
    throw new Error(`private PostgreSQL: running as root, but there is no OS user ${OS_USER} to run the server as (PostgreSQL refuses root)`);
  }
  return { uid: Number(found.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The environment without PG* variables, so the machine's PGPORT or PGDATA cannot steer the private cluster. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C', LANG: 'C' };
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG') && !key.startsWith('LC_') && key !== 'LANG') env[key] = value;
  return env;
}

/** A command as the OS user postgres when we are root (runuser is in util-linux, on every Debian). */
function command(file: string, args: string[], asPostgres: boolean): [string, string[]] {
  return asRoot && asPostgres ? ['runuser', ['-u', OS_USER, '--', file, ...args]] : [file, args];
}

function run(file: string, args: string[], options: { asPostgres?: boolean; cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const [bin, argv] = command(file, args, options.asPostgres ?? true);
  const result = spawnSync(bin, argv, { encoding: 'utf8', env: cleanEnv(), cwd: options.cwd ?? tmpdir(), timeout: 60_000 });
  if (result.error) throw new Error(`private PostgreSQL: cannot run ${file}: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The cleanup, in a process of its own: it runs when its stdin closes. */
function startWatchdog(pgCtl: string, dataDir: string, directory: string): ChildProcess {
  const [bin, argv] = command(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], true);
  const script = 'cat >/dev/null; data=$1; dir=$2; shift 2; if [ -f "$data/postmaster.pid" ]; then "$@" >/dev/null 2>&1; fi; rm -rf "$dir"';
  const watchdog = spawn('sh', ['-c', script, 'latch-pg-watchdog', dataDir, directory, bin, ...argv], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: cleanEnv(), cwd: tmpdir() });
  // Neither the watchdog nor its pipe may keep the test process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

/** Running, not merely a zombie waiting for an init that reaps slowly. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    if (existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Cheap settings for a cluster that lives for one test file and holds nothing worth keeping. */
function settings(directory: string): string {
  return [
    '',
    '# latch test fixture',
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${directory}'`,
    "password_encryption = 'scram-sha-256'",
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    "wal_level = 'minimal'",
    'max_wal_senders = 0',
    "shared_buffers = '16MB'",
    'max_connections = 50',
    'autovacuum = off',
    'logging_collector = off',
    "log_destination = 'stderr'",
    "log_statement = 'ddl'",
    'log_connections = on',
    "log_line_prefix = '%m [%p] %q%u@%d '",
    '',
  ].join('\n');
}

/** initdb + pg_ctl start on a free port of 127.0.0.1; a second try on another port if one was taken meanwhile. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const began = performance.now();
  const { bin, version } = findBinaries();
  const owner = osUser();
  const directory = mkdtempSync(join(tmpdir(), 'latch-pg-'));
  const dataDir = join(directory, 'data');
  const logFile = join(directory, 'server.log');
  const pgCtl = join(bin, 'pg_ctl');
  const watchdog = startWatchdog(pgCtl, dataDir, directory);

  const stop = async (): Promise<void> => {
    const postmaster = Number(readFirstLine(join(dataDir, 'postmaster.pid')));
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
      // Waiting for it must keep the process alive until it is done.
      watchdog.ref();
      watchdog.stdin?.end();
      await exited;
    } else {
      // Someone ended the watchdog: do its work here.
      if (existsSync(join(dataDir, 'postmaster.pid'))) run(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30']);
      rmSync(directory, { recursive: true, force: true });
    }
    if (postmaster > 0 && alive(postmaster)) throw new Error(`private PostgreSQL: the postmaster (pid ${postmaster}) is still running after stop`);
    if (existsSync(directory)) throw new Error(`private PostgreSQL: ${directory} is still there after stop`);
  };

  try {
    if (owner) chownSync(directory, owner.uid, owner.gid);
    const password = randomBytes(24).toString('base64url');
    const pwfile = join(directory, 'superuser.pw');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    const init = run(join(bin, 'initdb'), [
      '-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync',
    ], { cwd: directory });
    rmSync(pwfile, { force: true });
    if (init.status !== 0) throw new Error(`private PostgreSQL: initdb failed (exit ${init.status}):\n${init.stderr || init.stdout}`);
    appendFileSync(join(dataDir, 'postgresql.conf'), settings(directory));

    let port = 0;
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      const started = run(pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port}`], { cwd: directory });
      if (started.status === 0) break;
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (attempt < 3 && /Address already in use/.test(log)) continue;
      throw new Error(`private PostgreSQL: pg_ctl start failed (exit ${started.status}):\n${started.stderr || started.stdout}\n${log.split('\n').slice(-20).join('\n')}`);
    }

    return {
      host: '127.0.0.1', port, user: SUPERUSER, password, version, directory, logFile,
      log: (from = 0) => readFileSync(logFile).subarray(from).toString('utf8'),
      logSize: () => statSync(logFile).size,
      startupMs: Math.round(performance.now() - began),
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

function readFirstLine(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n')[0] ?? '';
  } catch {
    return '';
  }
}
