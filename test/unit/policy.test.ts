import { describe, expect, it } from 'vitest';
import { directoryFromConfig } from '../../config/directory.js';
import { parseConfig } from '../../config/parse.js';
import type { LatchConfig } from '../../config/schema.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { newRequestId, normalizeRequestId } from '../../core/ids.js';
import {
  MAX_REASON_LENGTH, checkApprover, checkRequest, currentApprovers, offeredItems, stepApprovers,
  type RequestInput,
} from '../../core/policy.js';
import type { AccessItem, AccessRequest, Decision } from '../../core/types.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;

// A small organisation. Alice is an engineer and a lead (so she sits in an approver group
// of flows she can request from); Mia is Alice's manager and also in security.
const CONFIG_TEXT = `
version: 1
identities:
  - { email: alice@example.com, manager: mia@example.com }
  - { email: bob@example.com, manager: carol@example.com }
  - { email: dan@example.com, manager: alice@example.com }
groups:
  - { name: engineers, members: [alice@example.com, bob@example.com, dan@example.com, group:leads] }
  - { name: leads, members: [lead@example.com, alice@example.com] }
  - { name: security, members: [sec1@example.com, sec2@example.com, mia@example.com] }
  - { name: contractors, members: [carl@example.com] }
  - { name: billing-team, members: [bill@example.com, bob@example.com] }
integrations:
  - name: orders
    type: postgresql
    owner: dba@example.com
    credentials: { env: ORDERS_PG_PASSWORD }
    resources:
      - { name: orders-prod, labels: [production], owner: owner@example.com, permissions: [read, write] }
      - { name: orders-staging, labels: [staging], permissions: [read, write] }
      - { name: orders-eu-1, permissions: [read] }
      - { name: orders-eu-2, permissions: [read] }
      - { name: reports, permissions: [read] }
      - { name: secrets-vault, permissions: [read] }
  - name: billing
    type: mysql
    owner: group:billing-team
    resources:
      - { name: reports, permissions: [read] }
      - { name: invoices, permissions: [read, write] }
bundles:
  - name: incident
    items:
      - { integration: orders, resource: orders-prod, permission: read }
      - { integration: billing, resource: invoices, permission: read }
flows:
  - name: contractors
    requesters: [group:contractors]
    access: [{ integration: orders, resources: { names: [orders-prod] }, permissions: [read] }]
    approval: { steps: [{ approvers: [group:leads] }] }
    duration: { default: 30m, max: 1h }
  - name: staging
    requesters: [group:engineers]
    access: [{ integration: orders, resources: { labels: [staging] }, permissions: [read, write] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 8h }
    justification: optional
  - name: prod-read
    requesters: [group:engineers]
    access: [{ integration: orders, resources: { names: [orders-prod] }, permissions: [read] }]
    approval: { steps: [{ approvers: [resource_owner, group:leads] }] }
    duration: { default: 1h, max: 4h }
  - name: prod-write
    requesters: [group:engineers]
    requestForOthers: true
    access: [{ integration: orders, resources: { names: [orders-prod] }, permissions: [write] }]
    approval:
      steps:
        - { name: manager, approvers: [manager] }
        - { name: security, approvers: [group:security], required: 2 }
    duration: { default: 30m, max: 2h }
  - name: eu-read
    requesters: [group:engineers]
    access: [{ integration: orders, resources: { pattern: "orders-eu-*" }, permissions: [read] }]
    approval: { steps: [{ approvers: [integration_owner] }] }
    duration: { default: 1h, max: 4h }
  - name: anything-read
    requesters: [group:engineers]
    access: [{ integration: orders, resources: any, exclude: [secrets-vault], permissions: [read] }]
    approval: { steps: [{ approvers: [group:leads] }] }
    duration: { default: 1h, max: 2h }
  - name: billing
    requesters: [group:engineers]
    requestForOthers: true
    access: [{ integration: billing, resources: { names: [invoices] }, permissions: [read] }]
    approval: { steps: [{ approvers: [resource_owner] }] }
    duration: { default: 1h, max: 4h }
  - name: incident
    requesters: [group:leads]
    access: [{ bundle: incident }]
    approval: { steps: [{ approvers: [group:security] }] }
    duration: { default: 2h, max: 8h }
  - name: solo
    requesters: [alice@example.com]
    access: [{ integration: billing, resources: { names: [reports] }, permissions: [read] }]
    approval: { steps: [{ approvers: [alice@example.com] }] }
    duration: { default: 1h, max: 4h }
  - name: invoice-write
    requesters: [group:security]
    access: [{ integration: billing, resources: { names: [invoices] }, permissions: [write] }]
    approval: { steps: [{ approvers: [group:security], required: 3 }] }
    duration: { default: 1h, max: 4h }
  - name: two-keys
    requesters: [group:engineers]
    access: [{ integration: orders, resources: { names: [orders-staging] }, permissions: [write] }]
    approval:
      steps:
        - { approvers: [group:leads] }
        - { approvers: [lead@example.com] }
    duration: { default: 1h, max: 4h }
`;

function load(text: string): LatchConfig {
  const parsed = parseConfig(text, 'policy-test.yaml');
  if (!parsed.ok) throw new Error(parsed.errors.map((error) => `${error.line} ${error.key}: ${error.message}`).join('\n'));
  return parsed.config;
}

const config = load(CONFIG_TEXT);
const directory = directoryFromConfig(config);

const ask = (requester: string, input: RequestInput) => checkRequest(config, directory, requester, input);
const because = { reason: 'INC-42' };

function flowNamed(name: string) {
  const flow = config.flows.find((candidate) => candidate.name === name);
  if (!flow) throw new Error(`no flow ${name}`);
  return flow;
}

function stepOf(flow: string, index: number) {
  const step = flowNamed(flow).approval.steps[index];
  if (!step) throw new Error(`flow ${flow} has no step ${index}`);
  return step;
}

const item = (integration: string, resource: string, permission: string): AccessItem => ({ integration, resource, permission });
const ORDERS_PROD_READ = item('orders', 'orders-prod', 'read');
const ORDERS_PROD_WRITE = item('orders', 'orders-prod', 'write');
const INVOICES_READ = item('billing', 'invoices', 'read');

function pendingRequest(fields: { flow: string; requester: string; grantee?: string; step?: number }): AccessRequest {
  return {
    id: 'AR-7K3M9QX2', kind: 'access', parentId: null, flow: fields.flow, bundle: null,
    requester: fields.requester, grantee: fields.grantee ?? fields.requester, reason: 'INC-42', durationMs: HOUR,
    state: 'pending', version: 1, step: fields.step ?? 0, createdAt: 0, updatedAt: 0, timeoutAt: null,
    decidedAt: null, decidedBy: null, expiresAt: null, endedAt: null, endedBy: null, outcome: null, policy: null, context: null, startAt: null,
  };
}

let decisionCount = 0;
function approval(step: number, approver: string): Decision {
  decisionCount += 1;
  return { id: `d${decisionCount}`, requestId: 'AR-7K3M9QX2', step, approver, verdict: 'approve', comment: null, at: 0 };
}

describe('who may request', () => {
  it('lets an engineer request what an engineers flow offers', () => {
    expect(ask('bob@example.com', { resource: 'orders-staging', permission: 'read' })).toMatchObject({
      ok: true, flow: { name: 'staging' }, items: [item('orders', 'orders-staging', 'read')], grantee: 'bob@example.com',
    });
  });

  it('refuses someone who is not among the requesters of any flow offering it', () => {
    expect(ask('carl@example.com', { resource: 'orders-staging', permission: 'read' })).toEqual({
      ok: false, reason: 'not_a_requester', message: 'You are not among the people who may request read on orders/orders-staging.',
    });
  });

  it('refuses a resource that exists but that no flow offers', () => {
    expect(ask('alice@example.com', { resource: 'secrets-vault', permission: 'read', ...because })).toEqual({
      ok: false, reason: 'not_offered', message: 'No access flow offers read on orders/secrets-vault.',
    });
  });

  it('refuses a resource that does not exist', () => {
    expect(ask('alice@example.com', { resource: 'orders-prd', permission: 'read' })).toMatchObject({
      ok: false, reason: 'unknown_resource', message: 'There is no resource called "orders-prd".',
    });
  });

  it('refuses a permission the resource does not have, naming those it has', () => {
    expect(ask('alice@example.com', { resource: 'orders-prod', permission: 'admin' })).toMatchObject({
      ok: false, reason: 'unknown_permission', message: 'orders/orders-prod has no permission "admin"; it offers read, write.',
    });
  });

  it('refuses a request that names nothing', () => {
    expect(ask('alice@example.com', { resource: 'orders-prod' })).toMatchObject({ ok: false, reason: 'nothing_requested' });
  });

  it('asks which one is meant when a resource name exists in two integrations', () => {
    expect(ask('alice@example.com', { resource: 'reports', permission: 'read', ...because })).toEqual({
      ok: false, reason: 'ambiguous_resource', message: '"reports" exists in several integrations; write one of: orders/reports, billing/reports.',
    });
  });

  it('resolves the ambiguity with integration/resource', () => {
    expect(ask('bob@example.com', { resource: 'orders/reports', permission: 'read', ...because })).toMatchObject({
      ok: true, flow: { name: 'anything-read' }, items: [item('orders', 'reports', 'read')],
    });
    expect(ask('bob@example.com', { resource: 'billing/reports', permission: 'read', ...because })).toMatchObject({
      ok: false, reason: 'not_a_requester',
    });
  });

  it('refuses a flow name that does not exist, and a flow that does not offer the resource', () => {
    expect(ask('bob@example.com', { flow: 'nope', resource: 'orders-staging', permission: 'read' })).toMatchObject({ ok: false, reason: 'unknown_flow' });
    expect(ask('bob@example.com', { flow: 'prod-read', resource: 'orders-staging', permission: 'read' })).toEqual({
      ok: false, reason: 'not_offered', message: 'No access flow offers read on orders/orders-staging in flow "prod-read".',
    });
  });
});

describe('duration and reason', () => {
  it('refuses a duration over the flow maximum, naming the maximum', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', durationMs: 5 * HOUR, ...because })).toEqual({
      ok: false, reason: 'duration_over_max', message: '5h is longer than flow "prod-read" allows: at most 4h.',
    });
  });

  it('allows exactly the maximum', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', durationMs: 4 * HOUR, ...because })).toMatchObject({ ok: true, durationMs: 4 * HOUR });
  });

  it('uses the flow default when no duration is given', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'write', ...because })).toMatchObject({ ok: true, durationMs: 30 * MINUTE });
  });

  it('refuses a duration that is not a positive length of time', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', durationMs: 0, ...because })).toMatchObject({ ok: false, reason: 'duration_invalid' });
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', durationMs: -HOUR, ...because })).toMatchObject({ ok: false, reason: 'duration_invalid' });
  });

  it('refuses a request without a reason when the flow requires one, even if the reason is only spaces', () => {
    for (const reason of [undefined, '', '   ']) {
      expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', reason })).toEqual({
        ok: false, reason: 'justification_required', message: 'Flow "prod-read" needs a reason: say why you need this access.',
      });
    }
  });

  it('does not need a reason when the flow makes it optional', () => {
    expect(ask('bob@example.com', { resource: 'orders-staging', permission: 'write' })).toMatchObject({ ok: true, reason: null });
  });

  it('keeps the reason trimmed', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', reason: '  INC-42  ' })).toMatchObject({ ok: true, reason: 'INC-42' });
  });

  it('refuses a reason that is too long', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', reason: 'x'.repeat(MAX_REASON_LENGTH) })).toMatchObject({ ok: true });
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', reason: 'x'.repeat(MAX_REASON_LENGTH + 1) })).toEqual({
      ok: false, reason: 'reason_too_long', message: `The reason is too long (${MAX_REASON_LENGTH + 1} characters; at most ${MAX_REASON_LENGTH}).`,
    });
  });
});

describe('requesting for someone else', () => {
  it('is refused unless the flow allows it', () => {
    expect(ask('alice@example.com', { resource: 'orders-staging', permission: 'read', grantee: 'bob@example.com' })).toEqual({
      ok: false, reason: 'not_for_others', message: 'Flow "staging" does not allow requesting access for someone else.',
    });
  });

  it('is allowed when the flow says requestForOthers', () => {
    expect(ask('lead@example.com', { resource: 'invoices', permission: 'read', grantee: 'Dan@Example.com', ...because })).toMatchObject({
      ok: true, flow: { name: 'billing' }, grantee: 'dan@example.com',
    });
  });
});

describe('what a flow offers', () => {
  const offered = (flow: string): string[] => offeredItems(config, flowNamed(flow)).map((offer) => `${offer.integration}/${offer.resource}/${offer.permission}`);

  it('selects resources by label', () => {
    expect(offered('staging')).toEqual(['orders/orders-staging/read', 'orders/orders-staging/write']);
  });

  it('selects resources by glob pattern', () => {
    expect(offered('eu-read')).toEqual(['orders/orders-eu-1/read', 'orders/orders-eu-2/read']);
  });

  it('selects any resource of the integration except the excluded ones', () => {
    expect(offered('anything-read')).toEqual([
      'orders/orders-prod/read', 'orders/orders-staging/read', 'orders/orders-eu-1/read', 'orders/orders-eu-2/read', 'orders/reports/read',
    ]);
  });

  it('offers only the permissions the flow names', () => {
    expect(offered('prod-read')).toEqual(['orders/orders-prod/read']);
  });

  it('offers what a bundle holds', () => {
    expect(offered('incident')).toEqual(['orders/orders-prod/read', 'billing/invoices/read']);
  });

  it('grants a bundle through the flow that offers it', () => {
    expect(ask('lead@example.com', { bundle: 'incident', ...because })).toMatchObject({
      ok: true, flow: { name: 'incident' }, bundle: 'incident', items: [ORDERS_PROD_READ, INVOICES_READ], durationMs: 2 * HOUR,
    });
    expect(ask('bob@example.com', { bundle: 'incident', ...because })).toMatchObject({ ok: false, reason: 'not_a_requester', message: 'You are not among the people who may request bundle "incident".' });
    expect(ask('lead@example.com', { bundle: 'nope' })).toMatchObject({ ok: false, reason: 'unknown_bundle' });
  });
});

describe('which flow decides', () => {
  it('is the first flow in config order that offers the access to this requester', () => {
    // "contractors" comes first and offers orders-prod read, but not to engineers.
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', ...because })).toMatchObject({ ok: true, flow: { name: 'prod-read' } });
    expect(ask('carl@example.com', { resource: 'orders-prod', permission: 'read', ...because })).toMatchObject({ ok: true, flow: { name: 'contractors' } });
    // eu-read and anything-read both offer orders-eu-1 read to engineers: eu-read is listed first.
    expect(ask('bob@example.com', { resource: 'orders-eu-1', permission: 'read', ...because })).toMatchObject({ ok: true, flow: { name: 'eu-read' } });
  });

  it('is the named flow when the requester picks one', () => {
    expect(ask('bob@example.com', { flow: 'anything-read', resource: 'orders-eu-1', permission: 'read', ...because })).toMatchObject({ ok: true, flow: { name: 'anything-read' } });
  });

  it('approves at once when the flow auto-approves', () => {
    expect(ask('bob@example.com', { resource: 'orders-staging', permission: 'write' })).toMatchObject({ ok: true, autoApproved: true });
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'read', ...because })).toMatchObject({ ok: true, autoApproved: false });
  });
});

describe('who may approve', () => {
  it('never includes the requester, even through an approver group', () => {
    const eligible = stepApprovers(config, directory, { requester: 'alice@example.com', grantee: 'alice@example.com', items: [ORDERS_PROD_READ] }, stepOf('prod-read', 0));
    expect([...eligible].sort()).toEqual(['lead@example.com', 'owner@example.com']);
  });

  it('never includes the grantee, even as an owner', () => {
    // bob is in billing-team, the owner of billing; invoices has no owner of its own.
    const eligible = stepApprovers(config, directory, { requester: 'lead@example.com', grantee: 'bob@example.com', items: [INVOICES_READ] }, stepOf('billing', 0));
    expect([...eligible]).toEqual(['bill@example.com']);
  });

  it('resolves resource_owner to the owner of the resource', () => {
    const eligible = stepApprovers(config, directory, { requester: 'bob@example.com', grantee: 'bob@example.com', items: [ORDERS_PROD_READ] }, stepOf('prod-read', 0));
    expect(eligible.has('owner@example.com')).toBe(true);
    expect(eligible.has('dba@example.com')).toBe(false);
  });

  it('falls back to the integration owner for resource_owner when the resource has no owner', () => {
    const eligible = stepApprovers(config, directory, { requester: 'dan@example.com', grantee: 'dan@example.com', items: [INVOICES_READ] }, stepOf('billing', 0));
    expect([...eligible].sort()).toEqual(['bill@example.com', 'bob@example.com']);
  });

  it('resolves integration_owner to the owner of the integration', () => {
    const eligible = stepApprovers(config, directory, { requester: 'bob@example.com', grantee: 'bob@example.com', items: [item('orders', 'orders-eu-1', 'read')] }, stepOf('eu-read', 0));
    expect([...eligible]).toEqual(['dba@example.com']);
  });

  it('resolves manager to the manager of the grantee, not of the requester', () => {
    const eligible = stepApprovers(config, directory, { requester: 'lead@example.com', grantee: 'bob@example.com', items: [ORDERS_PROD_WRITE] }, stepOf('prod-write', 0));
    expect([...eligible]).toEqual(['carol@example.com']);
    expect(ask('lead@example.com', { resource: 'orders-prod', permission: 'write', grantee: 'bob@example.com', ...because })).toMatchObject({ ok: true, grantee: 'bob@example.com' });
  });

  it('refuses a request nobody can approve: the only approver is the requester', () => {
    expect(ask('alice@example.com', { resource: 'billing/reports', permission: 'read', ...because })).toEqual({
      ok: false,
      reason: 'nobody_can_approve',
      message: 'Nobody can approve this request (approval step 1 has no approver other than you), so it was not submitted. Ask an admin to fix flow "solo".',
    });
  });

  it('refuses a request for someone whose manager is the requester when the manager must approve', () => {
    expect(ask('alice@example.com', { resource: 'orders-prod', permission: 'write', grantee: 'dan@example.com', ...because })).toMatchObject({
      ok: false, reason: 'nobody_can_approve', message: expect.stringContaining('approval step "manager"'),
    });
  });

  it('refuses a request for someone without a manager when the manager must approve', () => {
    expect(ask('bob@example.com', { resource: 'orders-prod', permission: 'write', grantee: 'lead@example.com', ...because })).toMatchObject({ ok: false, reason: 'nobody_can_approve' });
  });

  it('refuses a request whose steps only the same person could decide, since nobody approves two steps', () => {
    // Alice is a lead: for her own request only Lead is left for both steps.
    expect(ask('alice@example.com', { flow: 'two-keys', resource: 'orders-staging', permission: 'write', ...because })).toEqual({
      ok: false,
      reason: 'nobody_can_approve',
      message: 'The approval steps of this request can only be decided by the same people, and nobody may approve two steps, so it was not submitted. Ask an admin to fix flow "two-keys".',
    });
    // For Bob, Alice can take step 1 and Lead step 2.
    expect(ask('bob@example.com', { flow: 'two-keys', resource: 'orders-staging', permission: 'write', ...because })).toMatchObject({ ok: true, flow: { name: 'two-keys' } });
  });

  it('refuses a request when the requester\'s own membership leaves too few approvers for the step', () => {
    expect(ask('sec1@example.com', { resource: 'invoices', permission: 'write', ...because })).toEqual({
      ok: false, reason: 'nobody_can_approve', message: 'Approval step 1 needs 3 approvers but only 2 could decide this request, so it was not submitted.',
    });
  });
});

describe('checking an approver', () => {
  const prodRead = pendingRequest({ flow: 'prod-read', requester: 'bob@example.com' });
  const prodWrite = (step: number) => pendingRequest({ flow: 'prod-write', requester: 'alice@example.com', step });

  it('lets an approver of the step approve, completing a one-step request', () => {
    expect(checkApprover(config, directory, prodRead, [ORDERS_PROD_READ], [], 'lead@example.com')).toMatchObject({
      ok: true, completesStep: true, completesRequest: true,
    });
  });

  it('refuses someone who is not an approver', () => {
    expect(checkApprover(config, directory, prodRead, [ORDERS_PROD_READ], [], 'dan@example.com')).toEqual({
      ok: false, reason: 'not_an_approver', message: 'You are not an approver for step 1 of this request.',
    });
  });

  it('refuses the requester, even when they are in the approver group', () => {
    const own = pendingRequest({ flow: 'prod-read', requester: 'alice@example.com' });
    expect(checkApprover(config, directory, own, [ORDERS_PROD_READ], [], 'alice@example.com')).toEqual({
      ok: false, reason: 'self_approval', message: 'You cannot decide on your own request.',
    });
  });

  it('refuses the grantee of a request made for them', () => {
    const forBob = pendingRequest({ flow: 'billing', requester: 'lead@example.com', grantee: 'bob@example.com' });
    expect(checkApprover(config, directory, forBob, [INVOICES_READ], [], 'bob@example.com')).toMatchObject({ ok: false, reason: 'self_approval' });
    expect(checkApprover(config, directory, forBob, [INVOICES_READ], [], 'bill@example.com')).toMatchObject({ ok: true });
  });

  it('moves a multi-step request on after step 1 and completes it only on the last step', () => {
    expect(checkApprover(config, directory, prodWrite(0), [ORDERS_PROD_WRITE], [], 'mia@example.com')).toMatchObject({
      ok: true, step: { name: 'manager' }, completesStep: true, completesRequest: false,
    });
    expect(checkApprover(config, directory, prodWrite(0), [ORDERS_PROD_WRITE], [], 'sec1@example.com')).toEqual({
      ok: false, reason: 'not_an_approver', message: 'You are not an approver for step 1 ("manager") of this request.',
    });
  });

  it('needs two approvals when a step requires two: the first does not complete it, the second does', () => {
    const managerApproved = [approval(0, 'mia@example.com')];
    expect(checkApprover(config, directory, prodWrite(1), [ORDERS_PROD_WRITE], managerApproved, 'sec1@example.com')).toMatchObject({
      ok: true, step: { name: 'security' }, completesStep: false, completesRequest: false,
    });
    const oneSecurity = [...managerApproved, approval(1, 'sec1@example.com')];
    expect(checkApprover(config, directory, prodWrite(1), [ORDERS_PROD_WRITE], oneSecurity, 'sec2@example.com')).toMatchObject({
      ok: true, completesStep: true, completesRequest: true,
    });
  });

  it('does not let the same person approve a step twice', () => {
    const decisions = [approval(0, 'mia@example.com'), approval(1, 'sec1@example.com')];
    expect(checkApprover(config, directory, prodWrite(1), [ORDERS_PROD_WRITE], decisions, 'sec1@example.com')).toMatchObject({
      ok: false, reason: 'already_approved_step',
    });
  });

  it('does not let the person who approved step 1 approve step 2', () => {
    // Mia is Alice's manager and in security: eligible for both steps, but only for one of them.
    const decisions = [approval(0, 'mia@example.com')];
    expect(checkApprover(config, directory, prodWrite(1), [ORDERS_PROD_WRITE], decisions, 'mia@example.com')).toEqual({
      ok: false, reason: 'approved_earlier_step', message: 'You approved an earlier step of this request; the next step needs someone else.',
    });
  });

  it('refuses everyone once the flow has been removed from the config', () => {
    const orphan = pendingRequest({ flow: 'retired', requester: 'bob@example.com' });
    expect(checkApprover(config, directory, orphan, [ORDERS_PROD_READ], [], 'lead@example.com')).toEqual({
      ok: false, reason: 'flow_gone', message: 'Flow "retired" no longer exists in the config, so nobody can approve this request.',
    });
    expect(currentApprovers(config, directory, orphan, [ORDERS_PROD_READ], [])).toEqual(new Set());
  });

  it('lists the current approvers without those who already approved', () => {
    expect(currentApprovers(config, directory, prodWrite(0), [ORDERS_PROD_WRITE], [])).toEqual(new Set(['mia@example.com']));
    const decisions = [approval(0, 'mia@example.com'), approval(1, 'sec1@example.com')];
    expect(currentApprovers(config, directory, prodWrite(1), [ORDERS_PROD_WRITE], decisions)).toEqual(new Set(['sec2@example.com']));
  });
});

describe('durations', () => {
  it.each([
    ['30m', 30 * MINUTE], ['4h', 4 * HOUR], ['1h30m', 90 * MINUTE], ['7d', 7 * 24 * HOUR], ['2w', 14 * 24 * HOUR],
    ['45s', 45_000], ['1d12h', 36 * HOUR], [' 2H ', 2 * HOUR], ['1h 30m', 90 * MINUTE],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5x', '90', 'h', '0m', '30m1h', '1.5h', '-1h', '4 hours', 'forever'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it.each([
    [30 * MINUTE, '30m'], [4 * HOUR, '4h'], [90 * MINUTE, '1h30m'], [14 * 24 * HOUR, '14d'], [26 * HOUR + 5_000, '1d2h5s'], [0, '0s'],
  ])('writes %i ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('reads back what it writes', () => {
    for (const ms of [MINUTE, 90 * MINUTE, 4 * HOUR, 3 * 24 * HOUR + 7 * MINUTE]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe('request ids', () => {
  it('accepts what people type: any case, with or without the prefix', () => {
    expect(normalizeRequestId('AR-7K3M9QX2')).toBe('AR-7K3M9QX2');
    expect(normalizeRequestId('ar-7k3m9qx2')).toBe('AR-7K3M9QX2');
    expect(normalizeRequestId('  ar7k3m9qx2 ')).toBe('AR-7K3M9QX2');
    expect(normalizeRequestId('7k3m9qx2')).toBe('AR-7K3M9QX2');
  });

  it('reads I and L as 1 and O as 0, letters Latch never puts in an id', () => {
    expect(normalizeRequestId('AR-7K3M9QXI')).toBe('AR-7K3M9QX1');
    expect(normalizeRequestId('ar-7k3m9qxl')).toBe('AR-7K3M9QX1');
    expect(normalizeRequestId('AR-7K3M9QXO')).toBe('AR-7K3M9QX0');
  });

  it('accepts an id typed without its prefix even when the id itself starts with AR', () => {
    expect(normalizeRequestId('AR-ARK3M9QX')).toBe('AR-ARK3M9QX');
    expect(normalizeRequestId('ark3m9qx')).toBe('AR-ARK3M9QX');
  });

  it.each(['', 'hello', 'AR-', 'AR-7K3M9QX', 'AR-7K3M9QX22', 'AR-7K3M9QXU', 'AR-7K3M 9QX2', 'AR-7K3M9QX!', 'BR-7K3M9QX2'])('rejects %j', (text) => {
    expect(normalizeRequestId(text)).toBeNull();
  });

  it('accepts every id Latch makes', () => {
    for (let index = 0; index < 200; index += 1) {
      const id = newRequestId();
      expect(normalizeRequestId(id)).toBe(id);
      expect(normalizeRequestId(id.toLowerCase())).toBe(id);
    }
  });
});
