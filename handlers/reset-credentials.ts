// `/access credentials ID`: fresh credentials for access the person has now, by DM, for
// backends that can issue them (the provisioner's optional resetCredentials). Nothing
// about the request changes: same grants, same principal, same expiry. The new secrets go
// to the grantee's DM only; the audit event names what was reset, never a secret.
import type { Actor, Grant, RequestRecord } from '../core/types.js';
import { credentialItem, grantInput } from '../jobs/grant.js';
import { errorText } from '../jobs/job-handler.js';
import type { GrantInput, Provisioner } from '../provisioners/provisioner.js';
import type { LatchContext } from './context.js';
import { loadRequest } from './load-request.js';
import type { CredentialDelivery } from './notifier.js';
import { duplicateDelivery, fail, type Outcome } from './outcome.js';

export type ResetCredentialsOutcome = Outcome<
  { record: RequestRecord; reset: Grant[]; unsupported: Grant[]; where: string },
  'not_found' | 'not_allowed' | 'not_active' | 'not_supported' | 'backend_failed' | 'duplicate_delivery'
>;

interface Target { grant: Grant; input: GrantInput; provisioner: Provisioner & Required<Pick<Provisioner, 'resetCredentials'>> }

export async function resetCredentials(ctx: LatchContext, actor: Actor, idText: string): Promise<ResetCredentialsOutcome> {
  const loaded = await loadRequest(ctx, idText);
  if (!loaded.ok) return loaded;
  const { record } = loaded;
  const { request } = record;
  // Only the person who holds the access: the credentials are theirs, and they arrive in their DM.
  if (request.grantee !== actor.email) return fail('not_allowed', `Request ${request.id} is not yours: only the person who has the access can get new credentials for it.`);
  if (request.kind === 'extension') return fail('not_active', `${request.id} is an extension; ask for new credentials for the access it extends, ${request.parentId ?? ''}.`);
  if (request.state !== 'active') return fail('not_active', `${request.id} is ${request.state}, not active: new credentials are issued only for access you have now.`);

  const targets: Target[] = [];
  const unsupported: Grant[] = [];
  for (const grant of record.grants) {
    if (grant.state !== 'active') continue;
    const input = grantInput(ctx, record, grant);
    const provisioner = ctx.provisioners.for(input.integration);
    if (provisioner.resetCredentials) targets.push({ grant, input, provisioner: provisioner as Target['provisioner'] });
    else unsupported.push(grant);
  }
  if (targets.length === 0) {
    const where = [...new Set(unsupported.map((grant) => grant.integration))].join(', ');
    return fail('not_supported', `${where || 'This backend'} cannot issue new credentials, so Latch cannot reset them for ${request.id}. Revoke the access and request it again if you lost them.`);
  }

  // Claimed before any backend is touched: a retried or doubled delivery issues nothing twice.
  if (actor.deliveryId) {
    const claimed = await ctx.store.commit({ deliveryId: actor.deliveryId });
    if (!claimed.ok && claimed.conflict === 'duplicate_delivery') return duplicateDelivery();
  }

  const now = ctx.now();
  const delivery: CredentialDelivery = { record, grantee: request.grantee, items: [], key: `credentials:${request.id}:reset:${now}` };
  const reset: { grant: Grant; principal: string }[] = [];
  let where: string;
  try {
    for (const { grant, input, provisioner } of targets) {
      const output = await provisioner.resetCredentials(input);
      reset.push({ grant, principal: output.principal });
      delivery.items.push(credentialItem(input, grant, output));
    }
    where = (await ctx.notifier.deliverCredentials(delivery)).where;
  } catch (error) {
    // The message names the backend and the step; provisioner errors never carry a secret.
    const message = errorText(error);
    ctx.log.warn({ requestId: request.id, actor: actor.email, reset: reset.map((entry) => entry.grant.id), error: message }, 'resetting credentials failed');
    const partly = reset.length > 0 ? ` Credentials of ${reset.map((entry) => entry.grant.resource).join(', ')} were already replaced; ask again to receive working ones.` : '';
    return fail('backend_failed', `New credentials for ${request.id} could not be issued: ${message}.${partly}`);
  }

  await ctx.store.commit({
    audit: [{
      type: 'credentials.reset', requestId: request.id, actor: actor.email, at: now,
      data: {
        via: actor.via, delivered: where,
        grants: reset.map(({ grant, principal }) => ({ grant: grant.id, integration: grant.integration, resource: grant.resource, permission: grant.permission, principal })),
      },
    }],
  });
  return { ok: true, record, reset: reset.map((entry) => entry.grant), unsupported, where };
}
