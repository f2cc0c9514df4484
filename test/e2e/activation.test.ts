import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { eventually } from '../support/harness.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { orgConfig } from '../support/configs.js';
import { U, startSlackE2E, type SlackE2E, replyTo } from './slack-harness.js';
import { T, startTeamsE2E, type TeamsE2E, closeBoth } from './teams-harness.js';

// Approved is not yet active: with `activation: on_click` the requester activates the
// access and its time starts then, and an approval not activated in time lapses. A request
// may also start at a scheduled instant; it is granted then and revoked at the end of its
// window, also when Latch restarted in between.

type Call = { method: string; args: Record<string, unknown> };
type Sent = { body: Record<string, unknown> };
const json = (value: unknown): string => JSON.stringify(value ?? null);
const MIN = 60_000;

function onClickConfig(): string {
  const base = orgConfig({ settings: '  timeZone: Europe/Berlin' });
  const replaced = base.replace('approval: { autoApprove: true }\n    duration: { default: 1h, max: 8h }', 'approval: { autoApprove: true }\n    activation: on_click\n    activationWindow: 2h\n    duration: { default: 1h, max: 8h }');
  if (replaced === base) throw new Error('the org config changed shape: the staging flow was not found');
  return replaced;
}

let slack: SlackE2E | undefined;
let teams: TeamsE2E | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  const rejected = await closeBoth(slack, teams);
  slack = undefined;
  teams = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
  expect(rejected).toEqual([]);
});

describe('activation on click in Slack', () => {
  it('waits for the Activate click, then grants with the full duration from the click', async () => {
    slack = await startSlackE2E(onClickConfig());
    const answer = await replyTo(slack, U.bob, 'request orders-staging read for 1h');
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0] ?? '';
    expect(answer).toBe(`Approved automatically: ${id}. Activate it when you need it; the time starts then. I'll message you as it moves.`);
    await slack.settle();
    expect((await slack.latch.store.getRequest(id))?.request.state).toBe('ready');
    expect(slack.provisioner.held.size).toBe(0);
    const ready = slack.slack.callsTo('chat.postMessage').find((call: Call) => call.args.channel === U.bob && json(call.args).includes('latch.activate'));
    expect(String(ready?.args.text)).toContain(`Request ${id} (read on orders/orders-staging for 1h) is approved. Activate it when you need it: the 1h start then; the approval lapses if it is not activated within 2h.`);

    slack.advance(30 * MIN);
    const click = await slack.click(U.bob, 'latch.activate', id, { channel: slack.slack.channelOf(ready) ?? '', ts: slack.slack.tsOf(ready) ?? '' });
    const told = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === click.responseUrl);
    expect(told.args.text).toBe(`Activating ${id}: the access is being granted and its time starts now.`);
    await slack.settle();
    const record = await slack.latch.store.getRequest(id);
    expect(record?.request.state).toBe('active');
    const activatedAt = (await slack.latch.store.auditEvents({ requestId: id })).find((event) => event.type === 'request.activated')?.at ?? 0;
    expect(record?.request.expiresAt).toBeGreaterThanOrEqual(activatedAt + 60 * MIN);
    expect(slack.provisioner.held.size).toBe(1);
  });

  it('lets an approval lapse after the activation window, says so, and refuses a late click', async () => {
    slack = await startSlackE2E(onClickConfig());
    const id = /AR-[0-9A-Z]{8}/.exec(await replyTo(slack, U.bob, 'request orders-staging read for 1h'))?.[0] ?? '';
    await slack.settle();
    slack.advance(2 * 60 * MIN + MIN);
    await slack.settle();
    const record = await slack.latch.store.getRequest(id);
    expect(record?.request).toMatchObject({ state: 'lapsed', endedBy: 'latch', outcome: 'The approval lapsed: the access was not activated within 2h.' });
    const lapsed = slack.slack.callsTo('chat.postMessage').find((call: Call) => call.args.channel === U.bob && String(call.args.text).includes('lapsed'));
    expect(String(lapsed?.args.text)).toBe(`Request ${id} (read on orders/orders-staging for 1h): The approval lapsed: the access was not activated within 2h. Request it again when you need it.`);
    const late = await slack.click(U.bob, 'latch.activate', id, { channel: 'D1', ts: '1.1' });
    const told = await slack.slack.waitFor('response_url', (call: Call) => call.args.url === late.responseUrl);
    expect(told.args.text).toBe('You can\'t activate this request: it lapsed: it was approved but never activated.');
    expect(slack.provisioner.held.size).toBe(0);
  });

  it('reads "at 22:00" in the configured zone and says when the access starts', async () => {
    slack = await startSlackE2E(onClickConfig());
    const answer = await replyTo(slack, U.alice, 'request orders-prod read at 22:00 for 1h because INC-42 tonight');
    expect(answer).toMatch(/^Sent for approval: AR-[0-9A-Z]{8}\. It starts at \d{4}-\d{2}-\d{2} 22:00 Europe\/Berlin\. /);
    const [record] = await slack.latch.store.listRequests({});
    const hour = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' }).format(new Date(record?.request.startAt ?? 0));
    expect(hour).toBe('22');
    expect(await replyTo(slack, U.alice, 'request orders-prod read at soonish for 1h because INC-42')).toMatch(/^"soonish" is not a start time; write it like 22:00 or 2026-12-24 22:00 \(Europe\/Berlin\)/);
  });
});

describe('activation on click in Teams', () => {
  it('sends the Activate button to the requester, and the button grants', async () => {
    teams = await startTeamsE2E({ config: onClickConfig() });
    await teams.install(T.alice);
    await teams.say(T.alice, 'request orders-staging read for 1h');
    await teams.settle();
    const [record] = await teams.latch.store.listRequests({});
    const id = record?.request.id ?? '';
    const ready = (teams.connector.activitiesTo(teams.personalChat(T.alice)) as Sent[]).find((activity) => json(activity.body).includes('"verb":"activate"'));
    expect(json(ready?.body)).toContain(`"data":{"requestId":"${id}"}`);
    const answer = await teams.act(T.alice, 'activate', { requestId: id });
    expect(json(answer.body)).toContain(`Activating ${id}`);
    await teams.settle();
    await teams.settle();
    expect((await teams.latch.store.getRequest(id))?.request.state).toBe('active');
  });
});

describe('a scheduled start across a restart', () => {
  it('is granted at the start instant and revoked at the end of its window by the next process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latch-scheduled-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'latch.yaml');
    writeFileSync(file, orgConfig());
    const provisioner = new MemoryProvisioner();
    let offset = 0;
    const start = async (): Promise<RunningLatch> => startLatch({
      configFile: file, databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }),
      provisioners: new ProvisionerRegistry({}).use('orders', provisioner), env: {}, runner: { sweep: '*/1 * * * * *' }, now: () => Date.now() + offset,
    });
    let latch = await start();
    const startAt = Date.now() + 60 * MIN;
    const created = await requestAccess(latch.ctx, { email: 'bob@example.com', via: 'test' }, { resource: 'orders-staging', permission: 'read', durationMs: 30 * MIN, startAt });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    expect(created.record.request).toMatchObject({ state: 'ready', startAt });
    await latch.stop();

    // Latch is down through the start; it comes back five minutes late.
    offset = 65 * MIN;
    latch = await start();
    cleanups.unshift(async () => latch.stop());
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the scheduled grant');
    expect((await latch.store.getRequest(id))?.request.expiresAt).toBe(startAt + 30 * MIN);
    expect(provisioner.held.size).toBe(1);

    offset = 90 * MIN + 1_000;
    latch.ctx.wake();
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'expired', 'the revoke at the end of the window');
    expect(provisioner.held.size).toBe(0);
    const types = (await latch.store.auditEvents({ requestId: id })).map((event) => event.type);
    expect(types).toEqual(['request.created', 'request.approved', 'request.activated', 'grant.granted', 'grant.revoked', 'request.expired']);
  });
});
