// Latch as operators run it: bot/main.ts in a process of its own, for the tests of signals
// (shutdown, reload) and of what reaches stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface LatchProcess {
  child: ChildProcess;
  port: number;
  base: string;
  /** Every stdout line so far, parsed (pino JSON); lines that are not JSON are kept as `{ raw }`. */
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const ROOT = join(import.meta.dirname, '../..');

/**
 * Starts `bot/main.ts` with `env` on top of this process's environment; resolves once it logs
 * that it is ready. `nodeArgs` go to node itself (`--cpu-prof`, which NODE_OPTIONS refuses);
 * `entry` is the script to run instead of bot/main.ts (one that logs the same ready line).
 */
export function startLatchProcess(env: NodeJS.ProcessEnv, readyWithinMs = 20_000, nodeArgs: readonly string[] = [], entry = join(ROOT, 'bot/main.ts')): Promise<LatchProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let errors = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Latch did not get ready within ${readyWithinMs} ms:\n${errors}`));
    }, readyWithinMs);
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const complete = buffered.split('\n');
      buffered = complete.pop() ?? '';
      for (const text of complete.filter(Boolean)) {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          line = { raw: text };
        }
        lines.push(line);
        if (typeof line.msg === 'string' && line.msg.startsWith('Latch is ready on port')) {
          clearTimeout(timer);
          const port = Number(line.port);
          resolve({ child, port, base: `http://127.0.0.1:${port}`, lines, stderr: () => errors, exited });
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { errors += chunk; });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`Latch exited with ${String(code)} before it was ready:\n${errors}`));
    });
  });
}

/** Polls `url` until `stop()` is called, keeping each answer's status (or 0 when nothing answered). */
export function pollStatus(url: string, everyMs = 25): { seen: { at: number; status: number }[]; stop(): Promise<void> } {
  const seen: { at: number; status: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(async (answer) => {
        await answer.arrayBuffer();
        return answer.status;
      }, () => 0);
      seen.push({ at: Date.now(), status });
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
    },
  };
}
