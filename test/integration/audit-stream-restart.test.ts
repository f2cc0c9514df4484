import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningLatch } from '../../bot/latch.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { eventually } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';
import { runLifecycle, sinkMetric, startStreamingLatch, startWebhookReceiver, type ReceivedEvent, type WebhookReceiver } from '../support/audit-receivers.js';
import { startLatchProcess, type LatchProcess } from '../support/latch-process.js';

const SECRET = 'whsec-restart-0a1b2c3d4e5f60718293';

let latch: RunningLatch | null = null;
let receiver: WebhookReceiver | null = null;
let child: LatchProcess | null = null;
let dir = '';
afterEach(async () => {
  await latch?.stop();
  latch = null;
  if (child && child.child.exitCode === null && child.child.signalCode === null) {
    child.child.kill('SIGKILL');
    await child.exited;
  }
  child = null;
  await receiver?.close();
  receiver = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function readLines(file: string): ReceivedEvent[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as ReceivedEvent);
  } catch {
    return [];
  }
}

describe('audit streaming across restarts', () => {
  it('resumes from the durable cursor: what was recorded while Latch was down goes out after the restart, each event once, with no gap', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-audit-restart-'));
    const file = join(dir, 'audit.jsonl');
    const configFile = join(dir, 'latch.yaml');
    const dbFile = join(dir, 'latch.db');
    writeFileSync(configFile, orgConfig({ extra: `auditSinks:\n  - { name: archive, type: jsonl, path: ${file}, from: beginning }\n` }));

    latch = await startStreamingLatch(configFile, dbFile);
    await runLifecycle(latch);
    const before = (await latch.store.auditEvents({})).length;
    await eventually(() => readLines(file).length === before, 'the first run delivered everything');
    await latch.stop();
    latch = null;

    // Written while no Latch streams: another process on the same store (the CLI, a second instance).
    const other = new SqliteStore({ path: dbFile });
    await other.commit({ audit: [{ type: 'identity.rebound', requestId: null, actor: 'ops@example.com', at: Date.now(), data: { platform: 'slack', user: 'U1', email: 'a@example.com' } }] });
    const cursor = await other.openAuditCursor('archive', 'beginning', Date.now());
    expect(cursor.deliveredSeq).toBe(before);
    await other.close();

    latch = await startStreamingLatch(configFile, dbFile);
    await runLifecycle(latch, 'bob@example.com');
    const all = await latch.store.auditEvents({});
    await eventually(() => readLines(file).length >= all.length, 'the second run caught up');
    const lines = readLines(file);
    expect(lines.map((event) => event.seq)).toEqual(all.map((event) => event.seq));
    expect(lines.map((event) => event.id)).toEqual(all.map((event) => event.hash));
    expect(lines.find((event) => event.type === 'identity.rebound')?.seq).toBe(before + 1);
  });

  it('starts a sink added by a reload with the config.loaded that added it (from: now) or with the whole log (from: beginning), and stops a removed one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-audit-reload-'));
    const configFile = join(dir, 'latch.yaml');
    const archive = join(dir, 'archive.jsonl');
    receiver = await startWebhookReceiver(SECRET);
    writeFileSync(configFile, orgConfig());
    latch = await startStreamingLatch(configFile, join(dir, 'latch.db'), { LATCH_AUDIT_WEBHOOK_SECRET: SECRET });
    const running = latch;
    await runLifecycle(running);

    const sinks = `auditSinks:
  - { name: archive, type: jsonl, path: ${archive}, from: beginning }
  - { name: soc, type: webhook, url: "${receiver.url}", secret: { env: LATCH_AUDIT_WEBHOOK_SECRET } }
`;
    writeFileSync(configFile, orgConfig({ extra: sinks }));
    const loaded = await running.reload();
    expect(loaded).toMatchObject({ ok: true, changes: { auditSinks: { added: ['archive', 'soc'], removed: [], changed: [] } } });
    const reloadSeq = (await running.store.auditEvents({})).find((event) => event.type === 'config.loaded' && event.seq > 1)?.seq ?? 0;
    expect(reloadSeq).toBeGreaterThan(1);
    await runLifecycle(running, 'bob@example.com');
    const all = await running.store.auditEvents({});
    const live = receiver;
    await eventually(() => readLines(archive).length === all.length && live.accepted().length === all.length - reloadSeq + 1, 'both sinks caught up');
    expect(readLines(archive).map((event) => event.seq)).toEqual(all.map((event) => event.seq));
    // The webhook's first event is the config.loaded that added it.
    expect(live.accepted().map((event) => event.seq)).toEqual(all.filter((event) => event.seq >= reloadSeq).map((event) => event.seq));
    expect(await sinkMetric(running, 'latch_audit_sink_lag_events', 'soc')).toBe(0);

    // The webhook goes; the archive stays and keeps receiving.
    writeFileSync(configFile, orgConfig({ extra: `auditSinks:\n  - { name: archive, type: jsonl, path: ${archive}, from: beginning }\n` }));
    expect(await running.reload()).toMatchObject({ ok: true, changes: { auditSinks: { added: [], removed: ['soc'], changed: [] } } });
    const accepted = live.accepted().length;
    await runLifecycle(running);
    const later = await running.store.auditEvents({});
    await eventually(() => readLines(archive).length === later.length, 'the archive caught up');
    expect(live.accepted().length).toBe(accepted);
    // A scrape's reading is shared for 100 ms, so the removed sink leaves the gauges right after.
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_lag_events', 'soc')) === null, 'the removed sink gone from /metrics');
    const health = await (await fetch(`http://127.0.0.1:${running.port}/healthz?details=1`)).json() as { auditSinks: { sink: string }[] };
    expect(health.auditSinks.map((sink) => sink.sink)).toEqual(['archive']);
  });

  it('writes JSON lines to stdout beside the logs of `npm start`, and after a SIGKILL sends again what was not acknowledged: de-duplicated by id, nothing is missing', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-audit-stdout-'));
    const configFile = join(dir, 'latch.yaml');
    const dbFile = join(dir, 'latch.db');
    writeFileSync(configFile, orgConfig({ extra: 'auditSinks:\n  - { name: console, type: jsonl, path: stdout, from: beginning }\n' }));
    const env = { LATCH_CONFIG: configFile, DATABASE_URL: `sqlite:${dbFile}` };
    const audited = (process: LatchProcess): ReceivedEvent[] => process.lines.filter((line) => line.schema === 'latch.audit/1') as unknown as ReceivedEvent[];

    const first = await startLatchProcess(env);
    child = first;
    await eventually(() => audited(first).some((event) => event.type === 'config.loaded'), 'the start-up event on stdout', 15_000);
    // SIGHUP reloads the unchanged file, which is recorded: two more events, then the process is killed outright.
    first.child.kill('SIGHUP');
    await eventually(() => audited(first).length >= 2, 'the reload event on stdout', 15_000);
    first.child.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 20));
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startLatchProcess(env);
    child = second;
    const store = new SqliteStore({ path: dbFile });
    const stored = await store.auditEvents({});
    await store.close();
    await eventually(() => audited(second).some((event) => event.seq === stored.at(-1)?.seq), 'the second process caught up', 15_000);
    const seen = new Map<string, ReceivedEvent>();
    for (const event of [...audited(first), ...audited(second)]) if (!seen.has(event.id)) seen.set(event.id, event);
    expect([...seen.values()].map((event) => event.seq)).toEqual(stored.map((event) => event.seq));
    expect([...seen.values()].map((event) => event.id)).toEqual(stored.map((event) => event.hash));
    // Audit lines and log lines are told apart by `schema`; logs never carry it.
    expect(second.lines.some((line) => line.msg === 'audit sink console (jsonl) streaming')).toBe(true);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});
