// The machine a run was measured on, for the report and docs/PERFORMANCE.md.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { myAdmin, pgAdmin } from './backends.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  ramGiB: number;
  loadAverage: number[];
  node: string;
  postgresql: string;
  mariadb: string;
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const postgresql = await pgAdmin(async (client) => (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?');
  const mariadb = await myAdmin(async (conn) => {
    const [rows] = await conn.query('SELECT VERSION() AS v');
    return String((rows as { v: string }[])[0]?.v ?? '?');
  });
  return { cpus: availableParallelism(), cpuModel, ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10, loadAverage: loadavg().map((value) => Math.round(value * 100) / 100), node: process.version, postgresql, mariadb };
}
