import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requestAccess } from '../../handlers/request-access.js';
import { auditHash, GENESIS_HASH } from '../../storage/audit-hash.js';
import { createHarness, eventually, type Harness } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';
import type { JournalEntry } from '../support/memory-provisioner.js';

let harness: Harness;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await harness?.close();
});

function startWorker(h: Harness, journal: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../support/worker-child.ts')], {
    env: { ...process.env, LATCH_TEST_DB: h.dbFile, LATCH_TEST_CONFIG: h.configFile, LATCH_TEST_JOURNAL: journal, LATCH_TEST_DELAY_MS: '15' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited early with ${String(code)}`)));
  });
}

function journal(file: string): JournalEntry[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as JournalEntry) : [];
}

describe('crash safety', () => {
  it('finishes every job exactly once after the worker is killed with SIGKILL mid-batch', { timeout: 60_000 }, async () => {
    // Sixty people, so that each request is access its requester does not hold yet.
    const people = Array.from({ length: 60 }, (_, index) => `engineer${index}@example.com`);
    harness = await createHarness(orgConfig().replace('members: [alice@example.com, bob@example.com, lead@example.com]', `members: [alice@example.com, bob@example.com, lead@example.com, ${people.join(', ')}]`));
    const journalFile = join(harness.dir, 'backend.jsonl');
    const ids: string[] = [];
    for (let index = 0; index < 60; index += 1) {
      // A third of the grants expire within seconds, so revocations are in flight too.
      const durationMs = index % 3 === 0 ? 1_500 : 3_600_000;
      const created = await requestAccess(harness.ctx, harness.as(people[index] ?? ''), { resource: 'orders-staging', permission: index % 2 ? 'read' : 'write', durationMs });
      if (!created.ok) throw new Error(created.message);
      ids.push(created.record.request.id);
    }

    const first = await startWorker(harness, journalFile);
    await eventually(() => journal(journalFile).filter((entry) => entry.op === 'grant').length >= 20, 'the first worker to grant part of the batch', 20_000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const grantedBeforeCrash = journal(journalFile).filter((entry) => entry.op === 'grant').length;
    expect(grantedBeforeCrash).toBeLessThan(60);

    const second = await startWorker(harness, journalFile);
    await eventually(async () => {
      const records = await Promise.all(ids.map((id) => harness.store.getRequest(id)));
      return records.every((record, index) => record?.request.state === (index % 3 === 0 ? 'expired' : 'active'));
    }, 'every request to be active or expired on time', 30_000);
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));

    const records = await Promise.all(ids.map((id) => harness.store.getRequest(id)));
    const grantIds = records.flatMap((record) => record?.grants.map((grant) => grant.id) ?? []);
    expect(grantIds).toHaveLength(60);
    const entries = journal(journalFile);
    for (const grantId of grantIds) {
      // The backend saw each grant created exactly once; a retry after the crash found it in place.
      expect(entries.filter((entry) => entry.op === 'grant' && entry.grantId === grantId && entry.effect === 'created')).toHaveLength(1);
    }
    const audit = await harness.store.auditEvents({});
    for (const grantId of grantIds) {
      expect(audit.filter((event) => event.type === 'grant.granted' && event.data.grant === grantId)).toHaveLength(1);
    }
    const expired = records.filter((record) => record?.request.state === 'expired');
    expect(expired).toHaveLength(20);
    for (const record of expired) {
      const grantId = record?.grants[0]?.id ?? '';
      expect(entries.filter((entry) => entry.op === 'revoke' && entry.grantId === grantId).length).toBeGreaterThanOrEqual(1);
      expect(audit.filter((event) => event.type === 'request.expired' && event.requestId === record?.request.id)).toHaveLength(1);
    }
    const held = new Set<string>();
    for (const entry of entries) {
      if (entry.op === 'grant') held.add(entry.grantId);
      if (entry.op === 'revoke') held.delete(entry.grantId);
    }
    expect(held.size).toBe(40); // exactly the unexpired grants remain in the backend

    for (const id of ids) {
      for (const job of await harness.store.jobsFor(id)) {
        if (job.kind === 'grant') expect(job.state).toBe('done');
        expect(['running', 'dead']).not.toContain(job.state);
      }
    }
    let prev = GENESIS_HASH;
    for (const event of audit) {
      expect(event.prevHash).toBe(prev);
      expect(auditHash(prev, event.seq, event)).toBe(event.hash);
      prev = event.hash;
    }
  });
});
