import { renderAccessDetails } from '../cards/access-details.js';
import { transition } from '../core/lifecycle.js';
import { findResource } from '../core/policy.js';
import type { Grant, RequestRecord } from '../core/types.js';
import type { LatchContext } from '../handlers/context.js';
import { describeItem } from '../handlers/describe.js';
import { notifyJob, revokeJob } from '../handlers/jobs.js';
import type { CredentialDelivery } from '../handlers/notifier.js';
import { grantingStart } from '../handlers/granting-start.js';
import type { GrantInput, GrantOutput } from '../provisioners/provisioner.js';
import type { Job } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';
import { recordProvision } from './metrics.js';

export function grantInput(ctx: LatchContext, record: RequestRecord, grant: Grant): GrantInput {
  const found = findResource(ctx.current().config, grant.integration, grant.resource);
  if (!found) throw new Error(`${grant.integration}/${grant.resource} is no longer in the config`);
  return {
    grantId: grant.id, requestId: record.request.id, grantee: record.request.grantee, integration: found.integration, resource: found.resource,
    permission: grant.permission, permissionSettings: found.resource.permissions[grant.permission] ?? {},
    principal: grant.principal ?? '', expiresAt: record.request.expiresAt ?? ctx.now(),
  };
}

/** One grant's part of a credentials DM: the access-details template filled in, and the secrets. */
export function credentialItem(input: GrantInput, grant: Grant, output: GrantOutput): CredentialDelivery['items'][number] {
  // What the backend says about how to connect (e.g. user@server) wins over Latch's own guesses.
  const values = { ...input.integration.connection, username: output.principal, resource: grant.resource, permission: grant.permission, ...output.details };
  const details = input.integration.accessDetails ? renderAccessDetails(input.integration.accessDetails, values) : output.instructions ?? `user ${output.principal}`;
  return { grantId: grant.id, title: describeItem(grant), details, secrets: output.secrets ?? {} };
}

/** approved → granting (handlers/granting-start.ts), committed before any backend is touched. */
async function startGranting(ctx: LatchContext, record: RequestRecord): Promise<RequestRecord | 'conflict'> {
  const { request } = record;
  const now = ctx.now();
  const { state, expiresAt, grants } = grantingStart(request, record.grants, ctx.current().config.settings.instance, now);
  const committed = await ctx.store.commit({
    updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state, expiresAt, updatedAt: now } }],
    updateGrants: grants.map((grant) => ({ id: grant.id, set: { principal: grant.principal } })),
  });
  if (!committed.ok) return 'conflict';
  return { ...record, request: { ...request, state, expiresAt, version: request.version + 1, updatedAt: now }, grants };
}

async function giveUp(ctx: LatchContext, record: RequestRecord, error: string): Promise<JobOutcome> {
  const { request } = record;
  const moved = transition(request.state, 'fail', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  const now = ctx.now();
  return {
    status: 'done',
    change: {
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, outcome: error, endedAt: now, updatedAt: now } }],
      audit: [{ type: 'request.failed', requestId: request.id, actor: 'latch', at: now, data: { error } }],
      // Whatever part of the grant did land must not stay behind.
      enqueue: [notifyJob(request.id, 'failed', now), { kind: 'revoke', requestId: request.id, runAt: now, payload: { reason: 'cleanup' }, dedupeKey: `revoke:${request.id}:cleanup` }],
    },
  };
}

export const runGrant: JobHandler = async (job: Job, ctx: LatchContext, known?: RequestRecord) => {
  // Started at once by the approval's commit: the request is as that commit left it.
  let record = known?.request.id === job.requestId ? known : job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record) return { status: 'bury', error: `request ${job.requestId ?? '?'} not found` };
  if (record.request.state === 'approved') {
    const started = await startGranting(ctx, record);
    if (started === 'conflict') return { status: 'retry', error: 'request changed before granting started', delayMs: 0 };
    record = started;
  }
  if (record.request.state !== 'granting') return { status: 'done' };

  const { config } = ctx.current();
  const delivery: CredentialDelivery = { record, grantee: record.request.grantee, items: [], key: `credentials:${record.request.id}:${job.attempts}` };
  const granted: { grant: Grant; principal: string }[] = [];
  // Read beside the backend calls, which take longer: the DM goes out the moment they are done.
  const accounts = ctx.store.platformIdsFor(record.request.grantee).catch(() => undefined);
  try {
    for (const grant of record.grants) {
      const input = grantInput(ctx, record, grant);
      const started = performance.now();
      const output = await ctx.provisioners.for(input.integration).grant(input);
      recordProvision(grant.integration, 'grant', performance.now() - started);
      granted.push({ grant, principal: output.principal });
      delivery.items.push(credentialItem(input, grant, output));
    }
    // Credentials go to the grantee before the grant is recorded: if delivery fails the job
    // retries and the provisioner issues fresh ones, so nobody holds access they never received.
    const read = await accounts;
    if (read) delivery.accounts = read;
    await ctx.notifier.deliverCredentials(delivery);
  } catch (error) {
    const message = errorText(error);
    if (job.attempts >= config.settings.grantAttempts) return giveUp(ctx, record, `Granting failed after ${job.attempts} attempts: ${message}`);
    return { status: 'retry', error: message };
  }

  const { request } = record;
  const moved = transition(request.state, 'granted', ['system']);
  if (!moved.ok) throw new Error(moved.message);
  const now = ctx.now();
  const expiresAt = request.expiresAt ?? now + request.durationMs;
  const warningAt = expiresAt - config.settings.expiryWarning;
  return {
    status: 'done',
    change: {
      updateRequests: [{ id: request.id, expectState: request.state, expectVersion: request.version, set: { state: moved.to, updatedAt: now } }],
      updateGrants: granted.map(({ grant, principal }) => ({ id: grant.id, set: { state: 'active', principal, grantedAt: now, lastError: null } })),
      audit: granted.map(({ grant, principal }) => ({
        type: 'grant.granted', requestId: request.id, actor: 'latch', at: now,
        data: { grant: grant.id, integration: grant.integration, resource: grant.resource, permission: grant.permission, principal, grantee: request.grantee, expiresAt },
      })),
      enqueue: [
        revokeJob(request.id, expiresAt, 'expired', expiresAt),
        ...(warningAt > now ? [{ kind: 'expiry_warning' as const, requestId: request.id, runAt: warningAt, dedupeKey: `warn:${request.id}:${expiresAt}` }] : []),
        notifyJob(request.id, 'granted', now),
      ],
    },
  };
};
