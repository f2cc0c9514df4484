import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { eventually } from '../support/harness.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

const TOKEN = 'scim-bearer-token-0123456789abcdef';
let latch: RunningLatch;
let dir: string;
let base: string;
const provisioner = new MemoryProvisioner();

const CONFIG = `version: 1
settings: { admins: [sec@example.com] }
identitySources:
  - { type: scim, token: { env: LATCH_SCIM_TOKEN } }
groups:
  - { name: dbas, members: ["scim:DB Admins"] }
integrations:
  - name: orders
    type: postgresql
    owner: owner@example.com
    resources:
      - { name: orders-prod, permissions: [read, write] }
flows:
  - name: read
    requesters: [group:dbas]
    access: [{ integration: orders, resources: any, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
    revokeWhenIneligible: true
  - name: write
    requesters: [group:dbas]
    access: [{ integration: orders, resources: any, permissions: [write] }]
    approval: { steps: [{ approvers: [owner@example.com] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`;

async function scim(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; json: Record<string, unknown> | null; type: string | null }> {
  const response = await fetch(`${base}/scim/v2${path}`, {
    method, headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/scim+json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : null, type: response.headers.get('content-type') };
}

/** What Microsoft Entra provisioning POSTs for a new user (its userName is the UPN). */
const entraUser = (upn: string, mail: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
  externalId: `ext-${upn}`, userName: upn, active: true,
  emails: [{ primary: true, type: 'work', value: mail }],
  meta: { resourceType: 'User' }, name: { formatted: 'Given Family', familyName: 'Family', givenName: 'Given' }, roles: [],
});
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ids: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-scim-'));
  writeFileSync(join(dir, 'latch.yaml'), CONFIG);
  latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(), provisioners: new ProvisionerRegistry({}).use('orders', provisioner),
    env: { LATCH_SCIM_TOKEN: TOKEN }, runner: { sweep: '*/1 * * * * *' },
  });
  base = `http://127.0.0.1:${latch.port}`;
});

afterAll(async () => {
  await latch?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SCIM 2.0 provisioning at /scim/v2', () => {
  it('refuses a request without the bearer token, with a SCIM error', async () => {
    const none = await fetch(`${base}/scim/v2/Users`);
    expect(none.status).toBe(401);
    const wrong = await scim('GET', '/Users', undefined, 'not-the-token');
    expect(wrong).toMatchObject({ status: 401, json: { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' } });
  });

  it('creates users as Entra sends them and finds them by userName', async () => {
    const missing = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "alice_upn@corp.onmicrosoft.com"')}`);
    expect(missing).toMatchObject({ status: 200, json: { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, Resources: [] } });
    for (const name of ['alice', 'bob', 'carol']) {
      const created = await scim('POST', '/Users', entraUser(`${name}_upn@corp.onmicrosoft.com`, `${name}@example.com`));
      expect(created).toMatchObject({ status: 201, json: { userName: `${name}_upn@corp.onmicrosoft.com`, active: true, emails: [{ value: `${name}@example.com`, primary: true }] } });
      expect(created.type).toContain('application/scim+json');
      ids[name] = String(created.json?.id);
    }
    const found = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "alice_upn@corp.onmicrosoft.com"')}`);
    expect(found.json).toMatchObject({ totalResults: 1, Resources: [{ id: ids.alice, userName: 'alice_upn@corp.onmicrosoft.com' }] });
    const again = await scim('POST', '/Users', entraUser('alice_upn@corp.onmicrosoft.com', 'alice@example.com'));
    expect(again).toMatchObject({ status: 409, json: { scimType: 'uniqueness' } });
  });

  it('keeps a group\'s members through Entra\'s Add and Remove and Okta\'s filtered remove', async () => {
    const group = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'], externalId: 'ext-dbas', displayName: 'DB Admins', meta: { resourceType: 'Group' } });
    expect(group).toMatchObject({ status: 201, json: { displayName: 'DB Admins', members: [] } });
    ids.group = String(group.json?.id);
    const added = await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: ids.alice }, { $ref: null, value: ids.bob }, { $ref: null, value: ids.carol }] }] });
    expect(added.status).toBe(204);
    expect([...latch.ctx.current().directory.membersOf('dbas')].sort()).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    expect((await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: ids.carol }] }] })).status).toBe(204);
    expect((await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${ids.bob}"]` }] })).status).toBe(204);
    expect([...latch.ctx.current().directory.membersOf('dbas')]).toEqual(['alice@example.com']);
    const listed = await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "DB Admins"')}&excludedAttributes=members`);
    expect(listed.json).toMatchObject({ totalResults: 1, Resources: [{ id: ids.group, displayName: 'DB Admins' }] });
    expect((listed.json?.Resources as Record<string, unknown>[])[0]).not.toHaveProperty('members');
    const replaced = await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'members', value: [{ value: ids.alice, display: 'alice@example.com' }, { value: ids.bob, display: 'bob@example.com' }] }] });
    expect(replaced.status).toBe(204);
    expect([...latch.ctx.current().directory.membersOf('dbas')].sort()).toEqual(['alice@example.com', 'bob@example.com']);
  });

  it('refuses an operation it does not understand with a specific message and changes nothing', async () => {
    const refused = await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'move', path: 'members', value: [] }] });
    expect(refused).toMatchObject({ status: 400, json: { scimType: 'invalidSyntax', detail: 'op must be add, replace or remove, not "move"' } });
    const badFilter = await scim('GET', `/Users?filter=${encodeURIComponent('title co "x"')}`);
    expect(badFilter).toMatchObject({ status: 400, json: { scimType: 'invalidFilter' } });
    expect([...latch.ctx.current().directory.membersOf('dbas')].sort()).toEqual(['alice@example.com', 'bob@example.com']);
  });

  it('revokes the access of a person Entra deactivates at once, and cancels their pending request', async () => {
    const read = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'read' });
    if (!read.ok) throw new Error(read.message);
    await eventually(async () => (await latch.store.getRequest(read.record.request.id))?.request.state === 'active', 'alice\'s grant');
    const grantId = (await latch.store.getRequest(read.record.request.id))?.grants[0]?.id ?? '';
    expect(provisioner.held.has(grantId)).toBe(true);
    const pending = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'write' });
    if (!pending.ok) throw new Error(pending.message);

    // Entra sends the boolean as the string "False".
    const disabled = await scim('PATCH', `/Users/${ids.alice}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(disabled).toMatchObject({ status: 200, json: { id: ids.alice, active: false } });
    await eventually(async () => (await latch.store.getRequest(read.record.request.id))?.request.state === 'revoked', 'alice\'s grant to be revoked');
    expect(provisioner.held.has(grantId)).toBe(false);
    expect(provisioner.journal.filter((entry) => entry.grantId === grantId).map((entry) => `${entry.op}:${entry.effect}`)).toEqual(['grant:created', 'revoke:removed']);
    expect((await latch.store.getRequest(pending.record.request.id))?.request).toMatchObject({ state: 'cancelled', endedBy: 'latch', outcome: 'scim reports alice@example.com disabled' });
    const departed = (await latch.store.auditEvents({})).filter((event) => event.type === 'identity.departed');
    expect(departed.map((event) => ({ actor: event.actor, ...event.data }))).toEqual([{ actor: 'scim:scim', source: 'scim', email: 'alice@example.com', id: ids.alice, reason: 'disabled' }]);
  });

  it('takes Okta\'s deactivation and DELETE: the person is no longer requested for, and is gone from /Users', async () => {
    const deactivated = await scim('PATCH', `/Users/${ids.bob}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(deactivated).toMatchObject({ status: 200, json: { active: false } });
    expect(latch.ctx.current().directory.departed('bob@example.com')).toBe('scim reports bob@example.com disabled');
    expect(await requestAccess(latch.ctx, { email: 'bob@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'read' })).toMatchObject({ ok: false });
    expect((await scim('DELETE', `/Users/${ids.carol}`)).status).toBe(204);
    expect((await scim('GET', `/Users/${ids.carol}`)).status).toBe(404);
    expect(latch.ctx.current().directory.departed('carol@example.com')).toBe('scim reports carol@example.com deleted');
    const health = await (await fetch(`${base}/healthz?details=1`)).json() as { identitySources: { source: string; lastSuccessAt: string | null }[] };
    expect(health.identitySources[0]).toMatchObject({ source: 'scim', type: 'scim', people: 3, groups: 1 });
  });

  it('revokes access through a flow with revokeWhenIneligible when the grantee leaves its group, and keeps them able to use others', async () => {
    const dana = await scim('POST', '/Users', entraUser('dana_upn@corp.onmicrosoft.com', 'dana@example.com'));
    ids.dana = String(dana.json?.id);
    expect((await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: ids.dana }] }] })).status).toBe(204);
    const read = await requestAccess(latch.ctx, { email: 'dana@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'read' });
    if (!read.ok) throw new Error(read.message);
    await eventually(async () => (await latch.store.getRequest(read.record.request.id))?.request.state === 'active', 'dana\'s grant');

    expect((await scim('PATCH', `/Groups/${ids.group}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${ids.dana}"]` }] })).status).toBe(204);
    await eventually(async () => (await latch.store.getRequest(read.record.request.id))?.request.state === 'revoked', 'dana\'s grant to be revoked');
    const audit = (await latch.store.auditEvents({ requestId: read.record.request.id })).find((event) => event.type === 'request.revoke_requested');
    expect(audit).toMatchObject({ actor: 'latch', data: { via: 'identity', comment: 'dana@example.com is no longer among the requesters of flow read', mover: 'dana@example.com', flow: 'read' } });
    expect(latch.ctx.current().directory.departed('dana@example.com')).toBeNull();
  });

  it('keeps what was pushed across a restart: groups, leavers and the sync status come back from the store', async () => {
    const options = {
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(), provisioners: new ProvisionerRegistry({}).use('orders', provisioner),
      env: { LATCH_SCIM_TOKEN: TOKEN }, runner: { sweep: '*/1 * * * * *' },
    };
    await latch.stop();
    latch = await startLatch(options);
    base = `http://127.0.0.1:${latch.port}`;
    expect([...latch.ctx.current().directory.membersOf('dbas')]).toEqual([]);
    expect(latch.ctx.current().directory.departed('alice@example.com')).toBe('scim reports alice@example.com disabled');
    const found = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "dana_upn@corp.onmicrosoft.com"')}`);
    expect(found.json).toMatchObject({ totalResults: 1, Resources: [{ id: ids.dana, active: true }] });
  });
});
