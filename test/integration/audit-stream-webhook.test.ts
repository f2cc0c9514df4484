import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningLatch } from '../../bot/latch.js';
import { eventually } from '../support/harness.js';
import { orgConfig } from '../support/configs.js';
import { runLifecycle, sinkMetric, startStreamingLatch, startWebhookReceiver, storedAfter, type ReceivedEvent, type WebhookReceiver, startSeqOfNewSink } from '../support/audit-receivers.js';

const SECRET = 'whsec-test-5f1c0a9e7d3b2a4c6e8f';

let latch: RunningLatch | null = null;
let second: RunningLatch | null = null;
let receiver: WebhookReceiver | null = null;
let dir = '';
afterEach(async () => {
  await second?.stop();
  second = null;
  await latch?.stop();
  latch = null;
  await receiver?.close();
  receiver = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function webhookConfig(url: string, from = 'now'): string {
  return orgConfig({ extra: `auditSinks:
  - name: soc
    type: webhook
    url: ${url}
    secret: { env: LATCH_AUDIT_WEBHOOK_SECRET }
    from: ${from}
` });
}

async function start(url: string, from = 'now'): Promise<RunningLatch> {
  dir = mkdtempSync(join(tmpdir(), 'latch-webhook-'));
  writeFileSync(join(dir, 'latch.yaml'), webhookConfig(url, from));
  return startStreamingLatch(join(dir, 'latch.yaml'), join(dir, 'latch.db'), { LATCH_AUDIT_WEBHOOK_SECRET: SECRET });
}

/** What a receiver keeps after de-duplicating by id: the first copy of each event. */
function deduplicated(events: ReceivedEvent[]): ReceivedEvent[] {
  const seen = new Set<string>();
  return events.filter((event) => !seen.has(event.id) && Boolean(seen.add(event.id)));
}

describe('the webhook audit sink', () => {
  it('POSTs every event of a life cycle alone, signed over timestamp.body, in audit order, and retries through 503s without a gap', async () => {
    receiver = await startWebhookReceiver(SECRET);
    receiver.refuseNext(3);
    latch = await start(receiver.url);
    const firstSeq = await startSeqOfNewSink(latch);
    const id = await runLifecycle(latch);
    const expected = await storedAfter(latch, firstSeq);
    expect(expected.map((event) => event.type)).toEqual(expect.arrayContaining(['request.created', 'request.approved', 'grant.granted', 'request.revoked']));

    const live = receiver;
    await eventually(() => deduplicated(live.accepted()).length === expected.length, 'every event accepted');
    // The first three attempts were refused with 503 and sent again: the receiver saw the same event four times.
    expect(live.requests.slice(0, 3).map((request) => request.status)).toEqual([503, 503, 503]);
    expect(live.requests.every((request) => request.verified)).toBe(true);
    expect(live.requests[3]?.body).toBe(live.requests[0]?.body);

    const received = live.accepted();
    expect(received.map((event) => event.seq)).toEqual(expected.map((event) => event.seq));
    expect(received).toEqual(expected.map((event) => ({
      schema: 'latch.audit/1', id: event.hash, seq: event.seq, time: new Date(event.at).toISOString(), at: event.at, type: event.type, requestId: event.requestId,
      actor: event.actor, data: event.data, prevHash: event.prevHash, hash: event.hash, instance: 'latch',
    })));
    // The chain continues across events: a receiver can check nothing was left out.
    for (let index = 1; index < received.length; index += 1) expect(received[index]?.prevHash).toBe(received[index - 1]?.hash);
    expect(received.filter((event) => event.requestId === id).length).toBeGreaterThanOrEqual(4);

    const request = live.requests.at(-1);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-latch-event-id']).toBe(received.at(-1)?.id);
    expect(request?.headers['x-latch-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(Math.abs(Number(request?.headers['x-latch-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    const running = latch;
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_lag_events', 'soc')) === 0, 'lag back to 0');
  });

  it('does not hold up access decisions while the receiver is down; /metrics and /healthz show the lag, and it catches up in order once it is back', async () => {
    receiver = await startWebhookReceiver(SECRET, { listening: false });
    latch = await start(receiver.url);
    const running = latch;
    const firstSeq = await startSeqOfNewSink(running);
    const started = Date.now();
    const first = await runLifecycle(running);
    const second = await runLifecycle(running, 'bob@example.com');
    // Both life cycles ran to the end with the sink unreachable.
    expect((await running.store.getRequest(first))?.request.state).toBe('revoked');
    expect((await running.store.getRequest(second))?.request.state).toBe('revoked');
    expect(Date.now() - started).toBeLessThan(5_000);

    const expected = await storedAfter(running, firstSeq);
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_failing', 'soc')) === 1, 'the sink reported failing');
    expect(await sinkMetric(running, 'latch_audit_sink_lag_events', 'soc')).toBe(expected.length);
    const lagSeconds = await sinkMetric(running, 'latch_audit_sink_lag_seconds', 'soc');
    expect(lagSeconds).toBeGreaterThan(0);
    expect(await sinkMetric(running, 'latch_audit_sink_failures_total', 'soc')).toBeGreaterThan(0);
    const health = await (await fetch(`http://127.0.0.1:${running.port}/healthz?details=1`)).json() as { status: string; auditSinks: Record<string, unknown>[] };
    expect(health.status).toBe('ok');
    expect(health.auditSinks).toEqual([expect.objectContaining({ sink: 'soc', type: 'webhook', state: 'failing', ok: false, lagEvents: expected.length, deliveredSeq: firstSeq })]);
    expect(String(health.auditSinks[0]?.lastError)).toContain('cannot reach http://127.0.0.1:');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await sinkMetric(running, 'latch_audit_sink_lag_seconds', 'soc')).toBeGreaterThan(lagSeconds ?? 0);

    const live = receiver;
    await live.up();
    await eventually(async () => (await sinkMetric(running, 'latch_audit_sink_lag_events', 'soc')) === 0, 'lag back to 0');
    expect(await sinkMetric(running, 'latch_audit_sink_lag_seconds', 'soc')).toBe(0);
    expect(await sinkMetric(running, 'latch_audit_sink_failing', 'soc')).toBe(0);
    const received = deduplicated(live.accepted());
    expect(received.map((event) => event.seq)).toEqual(expected.map((event) => event.seq));
    expect(received.map((event) => event.id)).toEqual(expected.map((event) => event.hash));
    expect(await sinkMetric(running, 'latch_audit_sink_delivered_total', 'soc')).toBeGreaterThanOrEqual(expected.length);
    const after = await (await fetch(`http://127.0.0.1:${running.port}/healthz?details=1`)).json() as { auditSinks: Record<string, unknown>[] };
    expect(after.auditSinks[0]).toMatchObject({ sink: 'soc', ok: true, lagEvents: 0, lagSeconds: 0, failingSince: null, lastError: null, deliveredSeq: expected.at(-1)?.seq });
  });

  it('is refused by a receiver holding another key, and keeps offering the first unacknowledged event', async () => {
    receiver = await startWebhookReceiver('another-secret-entirely-0000');
    latch = await start(receiver.url);
    await runLifecycle(latch);
    const live = receiver;
    await eventually(() => live.requests.length >= 2, 'attempts with the wrong key');
    expect(live.requests.every((request) => request.status === 401 && !request.verified)).toBe(true);
    // Refused deliveries are not acknowledged: the same first event is offered again.
    expect(new Set(live.requests.map((request) => request.headers['x-latch-event-id'])).size).toBe(1);
  });

  it('is streamed by one of two Latch processes on the same store at a time: the other stands by, and every event arrives once', async () => {
    receiver = await startWebhookReceiver(SECRET);
    dir = mkdtempSync(join(tmpdir(), 'latch-webhook-'));
    writeFileSync(join(dir, 'latch.yaml'), webhookConfig(receiver.url));
    const env = { LATCH_AUDIT_WEBHOOK_SECRET: SECRET };
    latch = await startStreamingLatch(join(dir, 'latch.yaml'), join(dir, 'latch.db'), env, undefined, 'latch-one');
    const firstSeq = await startSeqOfNewSink(latch);
    second = await startStreamingLatch(join(dir, 'latch.yaml'), join(dir, 'latch.db'), env, undefined, 'latch-two');
    const [one, other] = [latch, second];
    await runLifecycle(one);
    await runLifecycle(other, 'bob@example.com');
    const expected = await storedAfter(one, firstSeq);
    const live = receiver;
    await eventually(() => live.accepted().length >= expected.length, 'every event accepted');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(live.accepted().map((event) => event.seq)).toEqual(expected.map((event) => event.seq));
    const states = [(await one.auditStream.health())[0]?.state, (await other.auditStream.health())[0]?.state];
    expect(states).toContain('standby');
  });
});
