import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningLatch } from '../../bot/latch.js';
import { eventually } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';
import { runLifecycle, sinkMetric, startHecDouble, startStreamingLatch, storedAfter, type HecDouble, type ReceivedEvent, startSeqOfNewSink } from '../support/audit-receivers.js';
import type { AuditEvent } from '../../storage/store.js';

const HEC_TOKEN = '6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';

let latch: RunningLatch | null = null;
let hec: HecDouble | null = null;
let dir = '';
afterEach(async () => {
  await latch?.stop();
  latch = null;
  await hec?.close();
  hec = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function wire(event: AuditEvent): ReceivedEvent {
  return {
    schema: 'latch.audit/1', id: event.hash, seq: event.seq, time: new Date(event.at).toISOString(), at: event.at, type: event.type,
    requestId: event.requestId, actor: event.actor, data: event.data, prevHash: event.prevHash, hash: event.hash, instance: 'latch',
  };
}

describe('the jsonl audit sink', () => {
  it('appends one JSON line per event to the file, from the first event in the log with from: beginning', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-jsonl-'));
    const file = join(dir, 'audit.jsonl');
    writeFileSync(join(dir, 'latch.yaml'), orgConfig({ extra: `auditSinks:\n  - { name: archive, type: jsonl, path: ${file}, from: beginning }\n` }));
    latch = await startStreamingLatch(join(dir, 'latch.yaml'), join(dir, 'latch.db'));
    await runLifecycle(latch);
    const expected = await storedAfter(latch, 0);
    expect(expected[0]?.type).toBe('config.loaded');
    const lines = (): string[] => {
      try {
        return readFileSync(file, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    await eventually(() => lines().length === expected.length, 'every event in the file');
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect(lines().map((line) => JSON.parse(line) as ReceivedEvent)).toEqual(expected.map(wire));
  });
});

describe('the splunk-hec audit sink', () => {
  it('POSTs batches to /services/collector/event with the Splunk token, in HEC event format, and never logs the token', async () => {
    // Down while the life cycle runs, so the backlog goes out in full batches once it is up.
    hec = await startHecDouble({ listening: false });
    dir = mkdtempSync(join(tmpdir(), 'latch-hec-'));
    writeFileSync(join(dir, 'latch.yaml'), orgConfig({ extra: `auditSinks:
  - name: splunk
    type: splunk-hec
    url: ${hec.url}
    token: { env: SPLUNK_HEC_TOKEN }
    index: security
    sourcetype: "latch:audit"
    host: jit.example.com
    batchSize: 3
` }));
    const lines: string[] = [];
    const capture = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(chunk.toString('utf8')); done(); } });
    latch = await startStreamingLatch(join(dir, 'latch.yaml'), join(dir, 'latch.db'), { SPLUNK_HEC_TOKEN: HEC_TOKEN }, pino({ level: 'debug' }, capture));
    const firstSeq = await startSeqOfNewSink(latch);
    await runLifecycle(latch);
    const expected = await storedAfter(latch, firstSeq);
    const running = latch;
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_failing', 'splunk')) === 1, 'the collector is unreachable');
    await hec.up();
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_lag_events', 'splunk')) === 0, 'caught up');

    const double = hec;
    // Batches of at most three events, in order; together exactly the events, each once.
    const hecEvent = (event: AuditEvent): string => JSON.stringify({ time: event.at / 1000, host: 'jit.example.com', source: 'latch', sourcetype: 'latch:audit', index: 'security', event: wire(event) });
    const batches: string[] = [];
    for (let index = 0; index < expected.length; index += 3) batches.push(expected.slice(index, index + 3).map(hecEvent).join('\n'));
    expect(double.requests.map((request) => request.body)).toEqual(batches);
    for (const request of double.requests) {
      expect(request).toMatchObject({ method: 'POST', url: '/services/collector/event' });
      expect(request.headers.authorization).toBe(`Splunk ${HEC_TOKEN}`);
      expect(request.headers['content-type']).toBe('application/json');
    }
    const parsed = JSON.parse(double.requests[0]?.body.split('\n')[0] ?? '{}') as { time: number };
    expect(parsed.time).toBe((expected[0]?.at ?? 0) / 1000);
    expect(lines.join('')).toContain('audit sink splunk (splunk-hec) streaming');
    expect(lines.join('')).not.toContain(HEC_TOKEN);
  });
});
