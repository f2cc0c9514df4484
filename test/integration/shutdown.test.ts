import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requestAccess } from '../../handlers/request-access.js';
import { createHarness, eventually, type Harness } from '../support/harness.js';
import { pollStatus, startLatchProcess, type LatchProcess } from '../support/latch-process.js';

const SLOW = join(import.meta.dirname, '../support/slow-provisioner.mjs');
const DOCUMENTS = 24; // more than the runner's 16 lanes, so part of the claimed batch has not started at the signal

interface JournalLine { op: string; grantId: string | null; phase: 'start' | 'end'; pid: number; at: number }

/** Auto-approved access to one of many documents, granted by a backend that takes its time. */
function slowConfig(): string {
  const resources = Array.from({ length: DOCUMENTS }, (_, index) => `      - { name: doc-${index}, permissions: [edit] }`).join('\n');
  return `version: 1
settings:
  admins: [sec@example.com]
integrations:
  - name: docs
    type: command
    connection: { command: ${SLOW}, env: "SLOW_PROVISIONER_MS,SLOW_PROVISIONER_JOURNAL", timeoutMs: 20000 }
    owner: owner@example.com
    resources:
${resources}
flows:
  - name: docs
    requesters: [alice@example.com]
    access: [{ integration: docs, resources: any, permissions: [edit] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`;
}

let harness: Harness | null = null;
const started: LatchProcess[] = [];
afterEach(async () => {
  for (const latch of started.splice(0)) if (latch.child.exitCode === null && latch.child.signalCode === null) latch.child.kill('SIGKILL');
  await harness?.close();
  harness = null;
});

function journal(file: string): JournalLine[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as JournalLine) : [];
}

async function start(h: Harness, journalFile: string, slowMs: number): Promise<LatchProcess> {
  const latch = await startLatchProcess({
    LATCH_CONFIG: h.configFile, DATABASE_URL: `sqlite:${h.dbFile}`, SLOW_PROVISIONER_MS: String(slowMs), SLOW_PROVISIONER_JOURNAL: journalFile,
  });
  started.push(latch);
  return latch;
}

async function requestEveryDocument(h: Harness): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < DOCUMENTS; index += 1) {
    const created = await requestAccess(h.ctx, h.as('alice@example.com'), { resource: `doc-${index}`, permission: 'edit' });
    if (!created.ok) throw new Error(created.message);
    ids.push(created.record.request.id);
  }
  return ids;
}

describe('graceful shutdown', () => {
  it('on SIGTERM answers 503 at once, finishes the grants in flight, gives back the rest and exits 0; after a restart every grant ran once', { timeout: 90_000 }, async () => {
    harness = await createHarness(slowConfig());
    const journalFile = join(harness.dir, 'backend.jsonl');
    const ids = await requestEveryDocument(harness);

    const first = await start(harness, journalFile, 1_500);
    await eventually(() => journal(journalFile).some((line) => line.op === 'grant' && line.phase === 'start'), 'a grant to be in flight', 20_000);
    const health = pollStatus(`${first.base}/healthz`);
    await eventually(() => health.seen.some((probe) => probe.status === 200), 'a healthy probe before the signal');
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const exitedAt = Date.now();
    await health.stop();

    expect(exit).toEqual({ code: 0, signal: null });
    const during = health.seen.filter((probe) => probe.at > signalledAt && probe.at < exitedAt);
    expect(during.map((probe) => probe.status)).toContain(503);
    expect(during.map((probe) => probe.status)).not.toContain(200);

    // Every grant that had started was allowed to finish and was recorded; none was cut off.
    const afterFirst = journal(journalFile).filter((line) => line.op === 'grant');
    const startedGrants = afterFirst.filter((line) => line.phase === 'start').map((line) => line.grantId);
    const endedGrants = afterFirst.filter((line) => line.phase === 'end').map((line) => line.grantId);
    expect(new Set(endedGrants)).toEqual(new Set(startedGrants));
    expect(startedGrants.length).toBeLessThan(DOCUMENTS);
    const records = await Promise.all(ids.map((id) => harness!.store.getRequest(id)));
    const active = records.filter((record) => record?.request.state === 'active');
    expect(active.map((record) => record?.grants[0]?.id).sort()).toEqual([...startedGrants].sort());
    for (const id of ids) {
      // Nothing stays claimed by the stopped process: what it did not start is pending again.
      for (const job of await harness.store.jobsFor(id)) expect(job.state === 'running' ? job.claimedBy : null).toBeNull();
    }

    const second = await start(harness, journalFile, 50);
    await eventually(async () => {
      const all = await Promise.all(ids.map((id) => harness!.store.getRequest(id)));
      return all.every((record) => record?.request.state === 'active');
    }, 'every request to be active after the restart', 30_000);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const grants = journal(journalFile).filter((line) => line.op === 'grant' && line.phase === 'start');
    const final = await Promise.all(ids.map((id) => harness!.store.getRequest(id)));
    const audit = await harness.store.auditEvents({});
    for (const record of final) {
      const grantId = record?.grants[0]?.id;
      expect(grants.filter((line) => line.grantId === grantId)).toHaveLength(1);
      expect(audit.filter((event) => event.type === 'grant.granted' && event.requestId === record?.request.id)).toHaveLength(1);
      for (const job of await harness.store.jobsFor(record?.request.id ?? '')) {
        if (job.kind === 'grant') expect(job.state).toBe('done');
        expect(['running', 'dead']).not.toContain(job.state);
      }
    }
  });

  it('exits at once with a non-zero status on a second signal', { timeout: 60_000 }, async () => {
    harness = await createHarness(slowConfig());
    const journalFile = join(harness.dir, 'backend.jsonl');
    await requestEveryDocument(harness);
    const latch = await start(harness, journalFile, 10_000);
    await eventually(() => journal(journalFile).some((line) => line.op === 'grant' && line.phase === 'start'), 'a grant to be in flight', 20_000);
    latch.child.kill('SIGTERM');
    await eventually(() => latch.lines.some((line) => String(line.msg).startsWith('SIGTERM received: finishing')), 'the first signal to be taken');
    const secondAt = Date.now();
    latch.child.kill('SIGTERM');
    const exit = await latch.exited;
    expect(exit.code).toBe(143);
    expect(Date.now() - secondAt).toBeLessThan(5_000);
  });
});
