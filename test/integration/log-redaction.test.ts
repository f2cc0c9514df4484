import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { createLogger } from '../../bot/logger.js';
import type { CredentialDelivery, Notifier } from '../../handlers/notifier.js';
import { eventually } from '../support/harness.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { postToSlackEvents, slashCommandBody } from '../support/slack-signing.js';

const EXAMPLE = resolve(import.meta.dirname, '../../scripts/example-provisioner.mjs');

// Latch's own secrets, shaped like real ones and made up for the test.
const SECRETS = {
  SLACK_SIGNING_SECRET: '9e107d9d372bb6826bd81d3542a419d6',
  SLACK_BOT_TOKEN: 'xoxb-1029384756-5647382910-QwErTyUiOpAsDfGhJkLzXcVb',
  // Set without MICROSOFT_APP_ID, so Teams stays off; its password is still Latch's to keep.
  MICROSOFT_APP_PASSWORD: 'Qr55Q~Zx9vB7nM5kL3jH1gF9dS7aP5oI3uY1tR9e',
  // Named by the config as the integration's credentials; the name alone would not give it away.
  WIKI_ADMIN_CRED: 'cfg-named-credential-4417',
  REPORTS_DB_URL: 'postgres://reporter:Db-Pa55word-8812@reports.internal:5432/reports',
} as const;

let latch: RunningLatch | null = null;
let slack: SlackDouble | null = null;
let dir = '';
afterEach(async () => {
  await latch?.stop();
  latch = null;
  await slack?.close();
  slack = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('logs', () => {
  it('carry none of the secrets a whole life cycle handled, even from a careless log line, and follow the request by its id', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-logs-'));
    writeFileSync(join(dir, 'latch.yaml'), `version: 1
settings:
  admins: [sec@example.com]
integrations:
  - name: wiki
    type: command
    connection: { command: ${EXAMPLE}, env: EXAMPLE_PROVISIONER_STATE }
    credentials: { env: WIKI_ADMIN_CRED }
    owner: owner@example.com
    accessDetails: "log in as {{username}}"
    resources:
      - { name: handbook, permissions: [edit] }
      - { name: runbooks, permissions: [edit] }
flows:
  - name: wiki
    requesters: [alice@example.com]
    access: [{ integration: wiki, resources: any, permissions: [edit] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`);
    slack = await startSlackDouble();
    slack.addUser({ id: 'UALICE', name: 'alice', email: 'alice@example.com' }).addUser({ id: 'USEC', name: 'sec', email: 'sec@example.com' });
    const env = { ...SECRETS, SLACK_API_URL: slack.apiUrl, EXAMPLE_PROVISIONER_STATE: join(dir, 'backend.json'), PATH: process.env.PATH };
    let output = '';
    const log = createLogger({ level: 'debug', env, destination: new Writable({ write(chunk: Buffer, _encoding, done) { output += chunk.toString('utf8'); done(); } }) });
    latch = await startLatch({ configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1', logger: log, env, runner: { sweep: '*/1 * * * * *' } });
    const running = latch;

    // A notifier that logs everything it is handed: the line a reviewer should have caught.
    const issued: string[] = [];
    const real = running.ctx.notifier;
    const careless: Notifier = {
      notify: (notification) => real.notify(notification),
      async deliverCredentials(delivery: CredentialDelivery) {
        for (const item of delivery.items) issued.push(...Object.values(item.secrets));
        log.info({ delivery, env }, `delivering ${JSON.stringify(delivery.items)} with ${JSON.stringify(env)}`);
        return real.deliverCredentials(delivery);
      },
    };
    running.ctx.notifier = careless;

    const base = `http://127.0.0.1:${running.port}`;
    const command = async (text: string): Promise<string> => {
      const responseUrl = slack!.responseUrl();
      const answer = await postToSlackEvents(base, slashCommandBody({ userId: 'UALICE', text, triggerId: slack!.issueTrigger(), responseUrl }), SECRETS.SLACK_SIGNING_SECRET);
      expect(answer.status).toBe(200);
      return String((await slack!.waitFor('response_url', (call) => call.args.url === responseUrl)).args.text);
    };
    const ids: string[] = [];
    for (const resource of ['handbook', 'runbooks']) {
      const id = /AR-[0-9A-Z]{8}/.exec(await command(`request ${resource} edit for 1h because docs`))?.[0];
      if (!id) throw new Error('no request id in the answer');
      ids.push(id);
      await eventually(async () => (await running.store.getRequest(id))?.request.state === 'active', `${id} to be active`);
    }
    for (const id of ids) {
      await command(`revoke ${id}`);
      await eventually(async () => (await running.store.getRequest(id))?.request.state === 'revoked', `${id} to be revoked`);
    }
    await running.stop();
    latch = null;

    // The secrets were real and went where they belong: to Alice's DM.
    expect(issued).toHaveLength(2);
    const dms = JSON.stringify(slack.callsTo('chat.postMessage').filter((call) => call.args.channel === 'UALICE'));
    for (const password of issued) expect(dms).toContain(password);
    // ... and nowhere in the log, though the careless line handed them all to it.
    const lines = output.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.some((line) => String(line.msg).startsWith('delivering'))).toBe(true);
    for (const secret of [...issued, ...Object.values(SECRETS), 'Db-Pa55word-8812']) expect(output).not.toContain(secret);

    // One request id follows each request from the chat command through the workers.
    for (const id of ids) {
      const mine = lines.filter((line) => line.requestId === id);
      const created = mine.find((line) => String(line.msg).startsWith(`request ${id}:`));
      expect(created?.reqId).toBeDefined();
      expect(lines.some((line) => line.reqId === created?.reqId && line.msg === 'request completed')).toBe(true);
      expect(mine.some((line) => line.msg === 'job grant done' && typeof line.jobId === 'number')).toBe(true);
      expect(mine.some((line) => line.msg === 'job revoke done')).toBe(true);
    }
  });
});
