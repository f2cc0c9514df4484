// Policy: who may ask for what, for how long, and who may decide. Pure: the config and
// the directory in, a verdict out. Every refusal carries a sentence for the person.
import type { ApprovalStep, Flow, Integration, LatchConfig, Owner, Principal, Resource } from '../config/schema.js';
import { globToRegExpSource } from '../config/references.js';
import type { Directory } from './directory.js';
import { formatDuration } from './duration.js';
import { checkReason } from './reason-rule.js';
import type { AccessItem, AccessRequest, Decision } from './types.js';

export { MAX_REASON_LENGTH } from './reason-rule.js';

export type Refusal<R extends string> = { ok: false; reason: R; message: string };

export type RequestRefusal = Refusal<
  | 'unknown_flow' | 'unknown_resource' | 'unknown_permission' | 'unknown_bundle' | 'ambiguous_resource'
  | 'not_a_requester' | 'not_offered' | 'duration_over_max' | 'duration_invalid'
  | 'justification_required' | 'reason_too_long' | 'reason_pattern' | 'not_for_others' | 'nobody_can_approve' | 'nothing_requested'
>;

/** What a person typed or picked, before it is checked. */
export interface RequestInput {
  flow?: string;
  bundle?: string;
  /** `resource` may be `integration/resource` or a resource name unique across integrations. */
  resource?: string;
  permission?: string;
  durationMs?: number;
  reason?: string;
  grantee?: string;
  /** A scheduled start (epoch ms); granted then instead of at approval. */
  startAt?: number;
}

export interface CheckedRequest {
  ok: true;
  flow: Flow;
  items: AccessItem[];
  bundle: string | null;
  durationMs: number;
  reason: string | null;
  grantee: string;
  autoApproved: boolean;
}

export const itemKey = (item: AccessItem): string => `${item.integration}/${item.resource}/${item.permission}`;

export function findResource(config: LatchConfig, integration: string, resource: string): { integration: Integration; resource: Resource } | null {
  const found = config.integrations.find((candidate) => candidate.name === integration);
  const match = found?.resources.find((candidate) => candidate.name === resource);
  return found && match ? { integration: found, resource: match } : null;
}

export function matchesPrincipal(principal: Principal, email: string, directory: Directory): boolean {
  switch (principal.kind) {
    case 'user': return principal.email === email;
    case 'group': return directory.membersOf(principal.group).has(email);
    case 'oncall': return directory.onCall(principal.schedule).has(email);
    default: return false;
  }
}

export function mayRequest(flow: Flow, email: string, directory: Directory): boolean {
  if (directory.departed(email) !== null) return false;
  return flow.requesters.some((principal) => matchesPrincipal(principal, email, directory));
}

/** Every resource + permission a flow offers, bundles included, in config order. */
export function offeredItems(config: LatchConfig, flow: Pick<Flow, 'access'>): AccessItem[] {
  const items: AccessItem[] = [];
  const seen = new Set<string>();
  const add = (item: AccessItem): void => {
    const key = itemKey(item);
    if (!seen.has(key)) {
      seen.add(key);
      items.push(item);
    }
  };
  for (const entry of flow.access) {
    if ('bundle' in entry) {
      config.bundles.find((bundle) => bundle.name === entry.bundle)?.items.forEach(add);
      continue;
    }
    const integration = config.integrations.find((candidate) => candidate.name === entry.integration);
    if (!integration) continue;
    const selector = entry.resources;
    const pattern = typeof selector === 'object' && 'pattern' in selector ? new RegExp(globToRegExpSource(selector.pattern)) : null;
    for (const resource of integration.resources) {
      if (entry.exclude.includes(resource.name)) continue;
      const selected = selector === 'any'
        || ('names' in selector && selector.names.includes(resource.name))
        || (pattern !== null && pattern.test(resource.name))
        || ('labels' in selector && selector.labels.some((label) => resource.labels.includes(label)));
      if (!selected) continue;
      for (const permission of entry.permissions) {
        if (permission in resource.permissions) add({ integration: integration.name, resource: resource.name, permission });
      }
    }
  }
  return items;
}

export function bundleOffered(flow: Flow, bundle: string): boolean {
  return flow.access.some((entry) => 'bundle' in entry && entry.bundle === bundle);
}

/** The flows a person may use, in config order. */
export function flowsFor(config: LatchConfig, email: string, directory: Directory): Flow[] {
  return config.flows.filter((flow) => mayRequest(flow, email, directory));
}

export function resolveItem(config: LatchConfig, resourceText: string, permission: string): { ok: true; item: AccessItem } | RequestRefusal {
  const [first, second] = resourceText.split('/', 2);
  const candidates = second !== undefined
    ? config.integrations.filter((integration) => integration.name === first).flatMap((integration) => integration.resources.filter((resource) => resource.name === second).map((resource) => ({ integration, resource })))
    : config.integrations.flatMap((integration) => integration.resources.filter((resource) => resource.name === first).map((resource) => ({ integration, resource })));
  if (candidates.length === 0) return { ok: false, reason: 'unknown_resource', message: `There is no resource called "${resourceText}".` };
  if (candidates.length > 1) {
    return { ok: false, reason: 'ambiguous_resource', message: `"${resourceText}" exists in several integrations; write one of: ${candidates.map((c) => `${c.integration.name}/${c.resource.name}`).join(', ')}.` };
  }
  const { integration, resource } = candidates[0] as { integration: Integration; resource: Resource };
  if (!(permission in resource.permissions)) {
    return { ok: false, reason: 'unknown_permission', message: `${integration.name}/${resource.name} has no permission "${permission}"; it offers ${Object.keys(resource.permissions).join(', ')}.` };
  }
  return { ok: true, item: { integration: integration.name, resource: resource.name, permission } };
}

/** Checks a request against the flows. Fails closed: a request nobody could approve is refused. */
export function checkRequest(config: LatchConfig, directory: Directory, requester: string, input: RequestInput): CheckedRequest | RequestRefusal {
  let items: AccessItem[];
  let bundle: string | null = null;
  if (input.bundle) {
    const found = config.bundles.find((candidate) => candidate.name === input.bundle);
    if (!found) return { ok: false, reason: 'unknown_bundle', message: `There is no bundle called "${input.bundle}".` };
    items = found.items;
    bundle = found.name;
  } else if (input.resource && input.permission) {
    const resolved = resolveItem(config, input.resource, input.permission);
    if (!resolved.ok) return resolved;
    items = [resolved.item];
  } else {
    return { ok: false, reason: 'nothing_requested', message: 'Say what you need: a resource and a permission, or a bundle.' };
  }

  const first = items[0] as AccessItem;
  const describe = bundle ? `bundle "${bundle}"` : `${first.permission} on ${first.integration}/${first.resource}`;
  const candidates = input.flow ? config.flows.filter((flow) => flow.name === input.flow) : config.flows;
  if (input.flow && candidates.length === 0) return { ok: false, reason: 'unknown_flow', message: `There is no access flow called "${input.flow}".` };
  const offering = candidates.filter((flow) => (bundle ? bundleOffered(flow, bundle) : items.every((item) => offeredItems(config, flow).some((offered) => itemKey(offered) === itemKey(item)))));
  if (offering.length === 0) return { ok: false, reason: 'not_offered', message: `No access flow offers ${describe}${input.flow ? ` in flow "${input.flow}"` : ''}.` };
  const flow = offering.find((candidate) => mayRequest(candidate, requester, directory));
  if (!flow) return { ok: false, reason: 'not_a_requester', message: `You are not among the people who may request ${describe}.` };

  const grantee = (input.grantee ?? requester).toLowerCase();
  if (grantee !== requester && !flow.requestForOthers) {
    return { ok: false, reason: 'not_for_others', message: `Flow "${flow.name}" does not allow requesting access for someone else.` };
  }
  const durationMs = input.durationMs ?? flow.duration.default;
  if (!Number.isSafeInteger(durationMs) || durationMs <= 0) return { ok: false, reason: 'duration_invalid', message: 'The duration must be a positive length of time, like 30m or 2h.' };
  if (durationMs > flow.duration.max) {
    return { ok: false, reason: 'duration_over_max', message: `${formatDuration(durationMs)} is longer than flow "${flow.name}" allows: at most ${formatDuration(flow.duration.max)}.` };
  }
  const checkedReason = checkReason(flow, input.reason);
  if (!checkedReason.ok) return checkedReason;
  const { reason } = checkedReason;

  if (!flow.approval.autoApprove) {
    const refusal = approvalImpossible(config, directory, flow, { requester, grantee, items });
    if (refusal) return refusal;
  }
  return { ok: true, flow, items, bundle, durationMs, reason, grantee, autoApproved: flow.approval.autoApprove };
}

/**
 * Why a request could never be approved, or null. Fails closed: every step must find
 * enough approvers other than the requester and grantee, and, since nobody may approve
 * two steps, different people for every approval needed.
 */
export function approvalImpossible(
  config: LatchConfig,
  directory: Directory,
  flow: Flow,
  subject: { requester: string; grantee: string; items: readonly AccessItem[] },
): RequestRefusal | null {
  const { requester, grantee, items } = subject;
  const slots: ReadonlySet<string>[] = [];
  for (const [index, step] of flow.approval.steps.entries()) {
    const eligible = stepApprovers(config, directory, { requester, grantee, items }, step);
    if (eligible.size < step.required) {
      const label = step.name ? `"${step.name}"` : `${index + 1}`;
      return {
        ok: false,
        reason: 'nobody_can_approve',
        message: eligible.size === 0
          ? `Nobody can approve this request (approval step ${label} has no approver other than you), so it was not submitted. Ask an admin to fix flow "${flow.name}".`
          : `Approval step ${label} needs ${step.required} approvers but only ${eligible.size} could decide this request, so it was not submitted.`,
      };
    }
    for (let count = 0; count < step.required; count += 1) slots.push(eligible);
  }
  // Each step must be decidable by people who decide no other step (see checkApprover).
  if (!distinctApproversExist(slots)) {
    return {
      ok: false,
      reason: 'nobody_can_approve',
      message: `The approval steps of this request can only be decided by the same people, and nobody may approve two steps, so it was not submitted. Ask an admin to fix flow "${flow.name}".`,
    };
  }
  return null;
}

/** Whether every slot (one per approval needed) can get its own person: a bipartite matching. */
function distinctApproversExist(slots: readonly ReadonlySet<string>[]): boolean {
  const slotOf = new Map<string, number>();
  const place = (slot: number, tried: Set<string>): boolean => {
    for (const person of slots[slot] ?? []) {
      if (tried.has(person)) continue;
      tried.add(person);
      const taken = slotOf.get(person);
      if (taken === undefined || place(taken, tried)) {
        slotOf.set(person, slot);
        return true;
      }
    }
    return false;
  };
  return slots.every((_, slot) => place(slot, new Set()));
}

function ownerEmails(owner: Owner | undefined, directory: Directory): string[] {
  if (!owner) return [];
  return owner.kind === 'user' ? [owner.email] : [...directory.membersOf(owner.group)];
}

/**
 * Who may decide this step for these people and items. The requester and the grantee are
 * never among them, whichever group, manager or owner link would have named them.
 */
export function stepApprovers(
  config: LatchConfig,
  directory: Directory,
  subject: { requester: string; grantee: string; items: readonly AccessItem[] },
  step: ApprovalStep,
): Set<string> {
  const eligible = new Set<string>();
  for (const principal of step.approvers) {
    switch (principal.kind) {
      case 'user': eligible.add(principal.email); break;
      case 'group': directory.membersOf(principal.group).forEach((email) => eligible.add(email)); break;
      case 'oncall': directory.onCall(principal.schedule).forEach((email) => eligible.add(email)); break;
      case 'manager': {
        const manager = directory.managerOf(subject.grantee);
        if (manager) eligible.add(manager);
        break;
      }
      case 'resource_owner':
      case 'integration_owner':
        for (const item of subject.items) {
          const found = findResource(config, item.integration, item.resource);
          if (!found) continue;
          const owner = principal.kind === 'resource_owner' ? found.resource.owner ?? found.integration.owner : found.integration.owner;
          ownerEmails(owner, directory).forEach((email) => eligible.add(email));
        }
        break;
    }
  }
  eligible.delete(subject.requester);
  eligible.delete(subject.grantee);
  // Someone an identity source reports gone decides nothing, even where the config names them.
  for (const email of eligible) if (directory.departed(email) !== null) eligible.delete(email);
  return eligible;
}

export type ApprovalRefusal = Refusal<'self_approval' | 'not_an_approver' | 'already_approved_step' | 'flow_gone' | 'approved_earlier_step'>;

export interface ApprovalCheck {
  ok: true;
  step: ApprovalStep;
  /** True when this approval completes the last step. */
  completesRequest: boolean;
  /** True when this approval completes the current step (the request moves to the next step). */
  completesStep: boolean;
}

export function approvalSteps(flow: Flow): ApprovalStep[] {
  return flow.approval.steps;
}

/** May `approver` approve (or deny) `request` now, under the config as it is now? */
export function checkApprover(
  config: LatchConfig,
  directory: Directory,
  request: AccessRequest,
  items: readonly AccessItem[],
  decisions: readonly Decision[],
  approver: string,
): ApprovalCheck | ApprovalRefusal {
  const flow = config.flows.find((candidate) => candidate.name === request.flow);
  if (!flow) return { ok: false, reason: 'flow_gone', message: `Flow "${request.flow}" no longer exists in the config, so nobody can approve this request.` };
  if (approver === request.requester || approver === request.grantee) {
    return { ok: false, reason: 'self_approval', message: 'You cannot decide on your own request.' };
  }
  const step = flow.approval.steps[request.step];
  if (!step) return { ok: false, reason: 'not_an_approver', message: 'This request has no approval step waiting for a decision.' };
  const eligible = stepApprovers(config, directory, { requester: request.requester, grantee: request.grantee, items }, step);
  if (!eligible.has(approver)) {
    const label = step.name ? ` ("${step.name}")` : '';
    return { ok: false, reason: 'not_an_approver', message: `You are not an approver for step ${request.step + 1}${label} of this request.` };
  }
  const mine = decisions.filter((decision) => decision.approver === approver && decision.verdict === 'approve');
  if (mine.some((decision) => decision.step === request.step)) return { ok: false, reason: 'already_approved_step', message: 'You have already approved this step; it is waiting for another approver.' };
  if (mine.length > 0) return { ok: false, reason: 'approved_earlier_step', message: 'You approved an earlier step of this request; the next step needs someone else.' };
  const approvals = new Set(decisions.filter((decision) => decision.step === request.step && decision.verdict === 'approve').map((decision) => decision.approver));
  const completesStep = approvals.size + 1 >= step.required;
  return { ok: true, step, completesStep, completesRequest: completesStep && request.step + 1 >= flow.approval.steps.length };
}

/** The people who can decide a pending request's current step (for notifications and `approvals`). */
export function currentApprovers(config: LatchConfig, directory: Directory, request: AccessRequest, items: readonly AccessItem[], decisions: readonly Decision[]): Set<string> {
  const flow = config.flows.find((candidate) => candidate.name === request.flow);
  const step = flow?.approval.steps[request.step];
  if (!step) return new Set();
  const eligible = stepApprovers(config, directory, { requester: request.requester, grantee: request.grantee, items }, step);
  for (const decision of decisions) if (decision.verdict === 'approve') eligible.delete(decision.approver);
  return eligible;
}
