import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningLatch } from '../../bot/latch.js';
import { eventually } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';
import {
  makeCertificates, parseRfc5424, runLifecycle, sinkMetric, startStreamingLatch, startSyslogReceiver, storedAfter, type ReceivedEvent, type SyslogReceiver, type TestCertificates, startSeqOfNewSink } from '../support/audit-receivers.js';

let latch: RunningLatch | null = null;
let receiver: SyslogReceiver | null = null;
let certificates: TestCertificates | null = null;
let dir = '';
afterEach(async () => {
  await latch?.stop();
  latch = null;
  await receiver?.close();
  receiver = null;
  certificates?.remove();
  certificates = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

async function start(sink: string): Promise<RunningLatch> {
  dir = mkdtempSync(join(tmpdir(), 'latch-syslog-'));
  writeFileSync(join(dir, 'latch.yaml'), orgConfig({ extra: `auditSinks:\n${sink}` }));
  return startStreamingLatch(join(dir, 'latch.yaml'), join(dir, 'latch.db'));
}

const AUTH = 4;
const LOCAL3 = 19;
const INFO = 6;
const WARNING = 4;

describe('the syslog audit sink', () => {
  it('sends each event as an RFC 5424 message over TCP, octet-counted, with the event id in structured data and the event as JSON', async () => {
    receiver = await startSyslogReceiver();
    latch = await start(`  - { name: rsyslog, type: syslog, host: 127.0.0.1, port: ${receiver.port}, facility: local3, appName: latch-audit, hostname: jit.example.com }\n`);
    const firstSeq = await startSeqOfNewSink(latch);
    const id = await runLifecycle(latch);
    // A refused reload is recorded as config.refused: something went wrong, so it goes out as a warning.
    writeFileSync(join(dir, 'latch.yaml'), 'version: 1\nflows: [ { name: broken } ]\n');
    expect(await latch.reload()).toMatchObject({ ok: false });
    const expected = await storedAfter(latch, firstSeq);
    expect(expected.at(-1)?.type).toBe('config.refused');
    const live = receiver;
    await eventually(() => live.messages.length >= expected.length, 'every event received');
    expect(live.garbage).toEqual([]);

    const parsed = live.messages.map(parseRfc5424);
    expect(parsed.map((message) => message.structuredData['latch@32473']?.seq)).toEqual(expected.map((event) => String(event.seq)));
    parsed.forEach((message, index) => {
      const event = expected[index];
      if (!event) throw new Error('more messages than events');
      expect(message).toMatchObject({
        version: 1, facility: LOCAL3, severity: event.type === 'config.refused' ? WARNING : INFO, timestamp: new Date(event.at).toISOString(), hostname: 'jit.example.com', appName: 'latch-audit',
        procId: String(process.pid), msgId: event.type,
      });
      expect(message.structuredData).toEqual({
        'latch@32473': { id: event.hash, seq: String(event.seq), type: event.type, actor: event.actor, ...(event.requestId ? { requestId: event.requestId } : {}) },
      });
      const body = JSON.parse(message.msg) as ReceivedEvent;
      expect(body).toMatchObject({ id: event.hash, seq: event.seq, type: event.type, requestId: event.requestId, data: event.data });
    });
    expect(parsed.filter((message) => message.structuredData['latch@32473']?.requestId === id).length).toBeGreaterThanOrEqual(4);
    const running = latch;
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_lag_events', 'rsyslog')) === 0, 'caught up');
  });

  it('speaks TLS to a receiver whose certificate a CA named in the config signed, with the facility and host name defaults', async () => {
    certificates = makeCertificates();
    receiver = await startSyslogReceiver({ tls: { key: certificates.key, cert: certificates.cert } });
    latch = await start(`  - name: siem-tls
    type: syslog
    host: 127.0.0.1
    port: ${receiver.port}
    tls: { ca: ${certificates.caFile} }
`);
    const firstSeq = await startSeqOfNewSink(latch);
    await runLifecycle(latch);
    const expected = await storedAfter(latch, firstSeq);
    const live = receiver;
    await eventually(() => live.messages.length >= expected.length, 'every event received over TLS');
    const parsed = live.messages.map(parseRfc5424);
    expect(parsed.map((message) => message.structuredData['latch@32473']?.id)).toEqual(expected.map((event) => event.hash));
    expect(parsed.every((message) => message.facility === AUTH && message.appName === 'latch' && message.hostname === hostname())).toBe(true);
  });

  it('refuses a TLS receiver whose certificate it cannot verify, sends it nothing, and says why', async () => {
    certificates = makeCertificates();
    receiver = await startSyslogReceiver({ tls: { key: certificates.key, cert: certificates.cert } });
    latch = await start(`  - { name: siem-tls, type: syslog, host: 127.0.0.1, port: ${receiver.port}, tls: { ca: ${certificates.otherCaFile} } }\n`);
    await runLifecycle(latch);
    const running = latch;
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_failing', 'siem-tls')) === 1, 'the sink is failing');
    const health = await (await fetch(`http://127.0.0.1:${running.port}/healthz?details=1`)).json() as { auditSinks: { state: string; lastError: string; lagEvents: number }[] };
    expect(health.auditSinks[0]?.state).toBe('failing');
    expect(health.auditSinks[0]?.lastError).toMatch(/cannot reach tls:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed|issuer)/i);
    expect(health.auditSinks[0]?.lagEvents).toBeGreaterThan(0);
    expect(receiver.messages).toEqual([]);
  });
});
