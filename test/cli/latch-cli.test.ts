import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';

const run = promisify(execFile);
let dir: string;
let databaseUrl: string;

async function latch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/latch.ts', ...args], { env: { ...process.env, DATABASE_URL: databaseUrl } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-cli-'));
  databaseUrl = `sqlite:${join(dir, 'latch.db')}`;
  const store = new SqliteStore({ path: join(dir, 'latch.db') });
  store.migrate();
  const at = Date.now() - 60_000;
  await store.commit({ audit: [{ type: 'request.created', requestId: 'AR-AAAAAAAA', actor: 'alice@example.com', at, data: { flow: 'prod-read', grantee: 'alice@example.com', reason: 'INC-1' } }] });
  await store.commit({ audit: [{ type: 'request.approved', requestId: 'AR-AAAAAAAA', actor: 'lead@example.com', at: at + 1, data: { step: 0 } }] });
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run latch', { timeout: 30_000 }, () => {
  it('checks a config file: OK, or the same report the server prints', async () => {
    expect(await latch('config', 'check', 'latch.config.example.yaml')).toMatchObject({ code: 0, stdout: 'latch.config.example.yaml: OK (3 flows, 1 integrations)\n' });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nflows:\n  - name: x\n    requsters: []\n');
    const report = await latch('config', 'check', bad);
    expect(report.code).toBe(1);
    expect(report.stdout.split('\n')).toContain(`${bad}:4:5 flows[0].requsters: unknown key "requsters"`);
    expect(report.stdout.split('\n')).toContain(`${bad}:3:5 flows[0].requesters: is required`);
  });

  it('verifies the audit chain and names the first broken event', async () => {
    expect(await latch('audit', 'verify')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit chain OK: 2 events, last hash [0-9a-f]{64}\n$/) });
    new Database(join(dir, 'latch.db')).prepare("UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 2").run();
    expect(await latch('audit', 'verify')).toMatchObject({ code: 1, stdout: expect.stringMatching(/^audit chain BROKEN at event #2 \(request\.approved at .+\): its content was changed after it was written\n$/) });
  });

  it('exports the access review as CSV or JSON', async () => {
    const csv = await latch('audit', 'export', '--since', '7d', '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\r\n')[0]).toBe('request,requester,grantee,flow,reason,requested_at,decision,decided_by,decided_at,granted,granted_at,ended,ended_at');
    expect(csv.stdout).toContain('AR-AAAAAAAA,alice@example.com');
    const json = await latch('audit', 'export', '--since', '2020-01-01', '--format', 'json');
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ request: 'AR-AAAAAAAA', requester: 'alice@example.com', decision: 'approved' })]);
  });

  it('explains a command it does not understand, with the usage, and exit 2', async () => {
    const xml = await latch('audit', 'export', '--since', '7d', '--format', 'xml');
    expect(xml.code).toBe(2);
    expect(xml.stderr).toContain('--format must be csv or json, not "xml".');
    expect(xml.stderr).toContain('Usage: npm run latch -- <command>');
    expect(await latch('audit', 'export', '--since', 'last tuesday')).toMatchObject({ code: 2, stderr: expect.stringContaining('"last tuesday" is neither a date nor a duration.') });
    expect(await latch('frobnicate')).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown command "frobnicate".') });
  });

  it('applies migrations', async () => {
    const fresh = `sqlite:${join(dir, 'fresh.db')}`;
    const { stdout, code } = await (async () => {
      try {
        const result = await run(process.execPath, ['--import', 'tsx', 'scripts/latch.ts', 'migrate', '--database', fresh]);
        return { ...result, code: 0 };
      } catch (error) {
        return { stdout: '', code: (error as { code: number }).code };
      }
    })();
    expect(code).toBe(0);
    expect(stdout).toBe(`migrations applied to ${fresh}\n`);
  });
});
