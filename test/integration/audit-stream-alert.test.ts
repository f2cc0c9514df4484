import { afterEach, describe, expect, it } from 'vitest';
import { startSlackE2E, U, type SlackE2E } from '../e2e/slack-harness.js';
import { orgConfig } from '../support/configs.js';
import { eventually } from '../support/harness.js';
import { freePort, parseRfc5424, runLifecycle, startSyslogReceiver, type SyslogReceiver, startSeqOfNewSink } from '../support/audit-receivers.js';

type Call = { method: string; args: Record<string, unknown> };

let e2e: SlackE2E | null = null;
let receiver: SyslogReceiver | null = null;
afterEach(async () => {
  await e2e?.close();
  e2e = null;
  await receiver?.close();
  receiver = null;
});

describe('a failing audit sink', () => {
  it('is told to the admins once, however often it is retried, and again once when it delivers again', { timeout: 60_000 }, async () => {
    const port = await freePort();
    e2e = await startSlackE2E(orgConfig({ extra: `auditSinks:\n  - { name: rsyslog, type: syslog, host: 127.0.0.1, port: ${port}, alertAfter: 1s }\n` }));
    const env = e2e;
    const firstSeq = await startSeqOfNewSink(env.latch);
    const id = await runLifecycle(env.latch);
    const alerts = (): Call[] => env.slack.calls.filter((call: Call) => call.method === 'chat.postMessage' && call.args.channel === U.sec && String(call.args.text).includes('"rsyslog"'));

    await eventually(() => alerts().length === 1, 'the admin alert', 15_000);
    expect(String(alerts()[0]?.args.text)).toContain('Latch cannot deliver audit events to the syslog sink "rsyslog"');
    expect(String(alerts()[0]?.args.text)).toContain(`cannot reach tcp://127.0.0.1:${port}`);
    // More attempts fail meanwhile; the admins are not told again.
    await eventually(async () => ((await env.latch.auditStream.health())[0]?.failures ?? 0) >= 3, 'further failed attempts', 20_000);
    expect(alerts()).toHaveLength(1);

    receiver = await startSyslogReceiver({ port });
    const live = receiver;
    const expected = (await env.latch.store.auditEvents({ afterSeq: firstSeq })).length;
    await eventually(() => live.messages.length >= expected, 'the backlog delivered', 30_000);
    expect(live.messages.slice(0, expected).map((message) => Number(parseRfc5424(message).structuredData['latch@32473']?.seq))).toEqual(
      (await env.latch.store.auditEvents({ afterSeq: firstSeq })).map((event) => event.seq));
    await eventually(() => alerts().length === 2, 'the all-clear');
    expect(String(alerts()[1]?.args.text)).toContain('The syslog audit sink "rsyslog" receives events again');
    expect((await env.latch.store.getRequest(id))?.request.state).toBe('revoked');
  });
});
