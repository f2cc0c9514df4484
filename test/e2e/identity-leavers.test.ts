import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAccess } from '../../handlers/request-access.js';
import { eventually } from '../support/harness.js';
import { fakeOktaRead, OKTA, type OktaUser } from '../support/identity-fakes.js';
import type { SlackCall } from '../support/slack-double.js';
import { startSlackE2E, U, type SlackE2E } from './slack-harness.js';

const OKTA_TOKEN = '00okta-api-token-for-latch-0123456789';

const CONFIG = `version: 1
settings:
  admins: [sec@example.com]
identitySources:
  - type: okta
    url: ${OKTA}
    token: { env: OKTA_API_TOKEN }
    managerAttribute: managerId
    syncEvery: 1h
    maxDisableShare: 40%
  - { type: slack, syncEvery: 1h }
groups:
  - { name: engineers, members: ["okta:engineering"] }
  - { name: db-oncall, members: ["slack:@db-oncall"] }
integrations:
  - name: orders
    type: postgresql
    owner: owner@example.com
    connection: { database: orders }
    resources:
      - { name: orders-prod, permissions: [read, write] }
flows:
  - name: prod-read
    requesters: [group:engineers]
    access: [{ integration: orders, resources: any, permissions: [read] }]
    approval: { steps: [{ approvers: [group:db-oncall] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
  - name: prod-write
    requesters: [group:engineers]
    access: [{ integration: orders, resources: any, permissions: [write] }]
    approval: { steps: [{ approvers: [manager, owner@example.com] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`;

const okta = (id: string, login: string, status: OktaUser['status'] = 'ACTIVE', managerId?: string): OktaUser => ({ id, login, status, ...(managerId ? { managerId } : {}) });
const ENGINEERING = { id: '00g1engineering', name: 'engineering', members: ['00u1alice', '00u2bob'] };
const everyone = (overrides: Partial<Record<string, OktaUser['status']>> = {}): OktaUser[] => [
  okta('00u1alice', 'alice@example.com', overrides.alice, '00u3mia'), okta('00u2bob', 'bob@example.com', overrides.bob),
  okta('00u3mia', 'mia@example.com', overrides.mia), okta('00u4app0', 'approver0@example.com', overrides.approver0), okta('00u5app1', 'approver1@example.com', overrides.approver1),
];

let e2e: SlackE2E;
let oktaCalls: ReturnType<typeof fakeOktaRead>;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  oktaCalls = fakeOktaRead(everyone(), [ENGINEERING], { throttleSecondPage: true });
  e2e = await startSlackE2E(CONFIG, { env: { OKTA_API_TOKEN: OKTA_TOKEN } });
  e2e.slack.addUserGroup({ id: 'S0DBONCALL', handle: 'db-oncall', name: 'DB on call', users: [U.approver0, U.approver1] });
  // The start-up sync may have run before the group existed in the double; read Slack again.
  await eventually(async () => (await e2e.latch.store.identitySnapshots?.syncs())?.some((sync) => sync.source === 'okta' && sync.lastSuccessAt !== null) ?? false, 'the start-up Okta sync', 15_000);
  await e2e.latch.ctx.identities?.sync('slack');
});

afterAll(async () => {
  await e2e?.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('identity sources behind Slack: Okta people and Slack user groups', () => {
  it('reads Okta through its Link pages and a 429 with the SSWS token, and Slack user groups by handle', async () => {
    expect(oktaCalls.map((call) => call.path)).toEqual(['users page 0', 'users page 1 (throttled)', 'users page 1', 'users page 2', 'groups engineering', 'members engineering page 0']);
    expect(new Set(oktaCalls.map((call) => call.authorization))).toEqual(new Set([`SSWS ${OKTA_TOKEN}`]));
    const { directory } = e2e.latch.ctx.current();
    expect([...directory.membersOf('engineers')].sort()).toEqual(['alice@example.com', 'bob@example.com']);
    expect([...directory.membersOf('db-oncall')].sort()).toEqual(['approver0@example.com', 'approver1@example.com']);
    expect(directory.managerOf('alice@example.com')).toBe('mia@example.com');
    const members = e2e.slack.calls.filter((call: SlackCall) => call.method === 'usergroups.users.list');
    expect(members.length).toBeGreaterThan(0);
    expect(new Set(members.map((call: SlackCall) => call.args.usergroup))).toEqual(new Set(['S0DBONCALL']));
    expect(e2e.slack.calls.some((call: SlackCall) => call.method === 'users.list')).toBe(true);
  });

  it('asks the manager Okta names for a write request', async () => {
    const created = await requestAccess(e2e.latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'write' });
    if (!created.ok) throw new Error(created.message);
    await e2e.settle();
    const card = await e2e.slack.waitFor('chat.postMessage', (call: SlackCall) => call.args.channel === U.mia && JSON.stringify(call.args).includes(created.record.request.id));
    expect(JSON.stringify(card.args.blocks)).toContain('latch.approve');
  });

  it('takes a suspended approver out of a pending approval and sends the card to the approvers left', async () => {
    const created = await requestAccess(e2e.latch.ctx, { email: 'bob@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'read' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    await e2e.settle();
    await e2e.slack.waitFor('chat.postMessage', (call: SlackCall) => call.args.channel === U.approver0 && JSON.stringify(call.args).includes(id));
    // approver2 joins the on-call group; approver0 is suspended in Okta.
    e2e.slack.addUserGroup({ id: 'S0DBONCALL', handle: 'db-oncall', users: [U.approver0, U.approver1, U.approver2] });
    await e2e.latch.ctx.identities?.sync('slack');
    fakeOktaRead([...everyone({ approver0: 'SUSPENDED' }), okta('00u6app2', 'approver2@example.com')], [ENGINEERING]);
    const [outcome] = await e2e.latch.ctx.identities?.sync('okta') ?? [];
    expect(outcome).toMatchObject({ status: 'applied', leavers: [{ email: 'approver0@example.com', reason: 'disabled' }] });

    const rerouted = await e2e.slack.waitFor('chat.postMessage', (call: SlackCall) => call.args.channel === U.approver2 && JSON.stringify(call.args).includes(id));
    expect(JSON.stringify(rerouted.args.blocks)).toContain('latch.approve');
    expect(e2e.slack.calls.filter((call: SlackCall) => call.method === 'chat.postMessage' && call.args.channel === U.approver1 && JSON.stringify(call.args).includes(id))).toHaveLength(1);
    const changed = (await e2e.latch.store.auditEvents({ requestId: id })).find((event) => event.type === 'request.approvers_changed');
    expect(changed?.data).toMatchObject({ removed: 'approver0@example.com', reason: 'okta reports approver0@example.com disabled', added: ['approver2@example.com'] });

    const posted = e2e.slack.messagesIn(e2e.slack.dmOf(U.approver0))[0] as { channel: string; ts: string };
    const click = await e2e.click(U.approver0, 'latch.approve', id, posted);
    const reply = await e2e.slack.waitFor('response_url', (call: SlackCall) => call.args.url === click.responseUrl);
    expect(String(reply.args.text)).toBe('You are not an approver for step 1 of this request.');
    expect((await e2e.latch.store.getRequest(id))?.request.state).toBe('pending');
  });

  it('holds an Okta answer that suspends nearly everyone and tells the admins in Slack, revoking nothing', async () => {
    const active = await requestAccess(e2e.latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'read' });
    if (!active.ok) throw new Error(active.message);
    fakeOktaRead(everyone({ alice: 'SUSPENDED', bob: 'SUSPENDED', mia: 'SUSPENDED', approver1: 'SUSPENDED' }), [ENGINEERING]);
    const [outcome] = await e2e.latch.ctx.identities?.sync('okta') ?? [];
    expect(outcome).toMatchObject({ status: 'held' });
    const alert = await e2e.slack.waitFor('chat.postMessage', (call: SlackCall) => call.args.channel === U.sec && String(call.args.text).startsWith('Latch held a sync: identity source okta reports 5 of 5 active people disabled or gone'));
    expect(String(alert.args.text)).toContain('npm run latch -- identities sync okta --allow-mass-disable');
    expect((await e2e.latch.store.getRequest(active.record.request.id))?.request.state).toBe('pending');
    expect(e2e.latch.ctx.current().directory.departed('alice@example.com')).toBeNull();
  });
});
