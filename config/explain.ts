// `latch config check --explain`: what a config means in people, before it is merged. For
// every flow: who could ask, who would be asked to approve at each step, and where every
// message would go, resolved against the groups and identities of the file, with counts.
import type { Directory } from '../core/directory.js';
import { formatDuration } from '../core/duration.js';
import { approvalImpossible, offeredItems } from '../core/policy.js';
import { notifyPlan, type NotifyPlan } from '../core/routing.js';
import type { AccessItem } from '../core/types.js';
import type { ChannelTarget, Flow, LatchConfig, Owner, Principal } from './schema.js';

const sorted = (people: Iterable<string>): string[] => [...new Set(people)].sort();

function people(list: Iterable<string>): string {
  const all = sorted(list);
  return all.length === 0 ? 'nobody' : `${all.length} ${all.length === 1 ? 'person' : 'people'}: ${all.join(', ')}`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function ownerPeople(owner: Owner, directory: Directory): string[] {
  return owner.kind === 'user' ? [owner.email] : [...directory.membersOf(owner.group)];
}

function ownerText(owner: Owner, directory: Directory): string {
  return owner.kind === 'user' ? owner.email : `group:${owner.group} (${people(directory.membersOf(owner.group))})`;
}

function itemText(item: AccessItem): string {
  return `${item.permission} on ${item.integration}/${item.resource}`;
}

function channelText(channel: ChannelTarget): string {
  return `${channel.platform} ${channel.id}`;
}

/** What a flow offers, as units someone can ask for: each resource permission, and each bundle whole. */
function offeredUnits(config: LatchConfig, flow: Flow): { label: string; items: AccessItem[] }[] {
  const units = offeredItems(config, flow).map((item) => ({ label: itemText(item), items: [item] }));
  for (const entry of flow.access) {
    if (!('bundle' in entry)) continue;
    const bundle = config.bundles.find((candidate) => candidate.name === entry.bundle);
    if (bundle) units.push({ label: `bundle ${bundle.name}`, items: bundle.items });
  }
  return units;
}

/** Who a requester principal is now; on-call schedules are only known when a request is made. */
function requesterLines(flow: Flow, directory: Directory): { people: string[]; lines: string[] } {
  const found: string[] = [];
  const lines = flow.requesters.map((principal) => {
    switch (principal.kind) {
      case 'user':
        found.push(principal.email);
        return principal.email;
      case 'group': {
        const members = [...directory.membersOf(principal.group)];
        found.push(...members);
        return `group:${principal.group} (${people(members)})`;
      }
      case 'oncall':
        return `oncall:${principal.schedule}: whoever is on call for "${principal.schedule}" when they ask (not known in advance)`;
      default:
        return principal.kind;
    }
  });
  return { people: sorted(found), lines };
}

/** One approver principal of a step, resolved for every request the flow can receive, in words. */
function approverLine(config: LatchConfig, directory: Directory, flow: Flow, principal: Principal, grantees: string[], units: { items: AccessItem[] }[]): { people: string[]; line: string } {
  switch (principal.kind) {
    case 'user':
      return { people: [principal.email], line: principal.email };
    case 'group': {
      const members = [...directory.membersOf(principal.group)];
      return { people: members, line: `group:${principal.group} (${people(members)})` };
    }
    case 'oncall':
      return { people: [], line: `oncall:${principal.schedule}: whoever is on call for "${principal.schedule}" at the time (not known in advance)` };
    case 'manager': {
      const byManager = new Map<string, string[]>();
      const without: string[] = [];
      for (const grantee of grantees) {
        const manager = directory.managerOf(grantee);
        if (manager) byManager.set(manager, [...(byManager.get(manager) ?? []), grantee]);
        else without.push(grantee);
      }
      const parts = [...byManager.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([manager, reports]) => `${manager} for ${sorted(reports).join(', ')}`);
      if (without.length > 0) parts.push(`nobody for ${sorted(without).join(', ')} (no manager under identities)`);
      const forOthers = flow.requestForOthers ? '; for access asked on someone else\'s behalf, that person\'s manager' : '';
      return { people: [...byManager.keys()], line: `manager: the manager of whoever gets the access, from identities: ${parts.join('; ') || 'nobody'}${forOthers}` };
    }
    case 'resource_owner':
    case 'integration_owner': {
      const resolved = new Map<string, { owner: Owner; via: string }>();
      for (const item of units.flatMap((unit) => unit.items)) {
        const integration = config.integrations.find((candidate) => candidate.name === item.integration);
        const resource = integration?.resources.find((candidate) => candidate.name === item.resource);
        if (!integration || !resource) continue;
        if (principal.kind === 'integration_owner') resolved.set(integration.name, { owner: integration.owner, via: '' });
        else resolved.set(`${integration.name}/${resource.name}`, resource.owner ? { owner: resource.owner, via: '' } : { owner: integration.owner, via: 'its integration\'s owner ' });
      }
      const found = [...resolved.values()].flatMap(({ owner }) => ownerPeople(owner, directory));
      const parts = [...resolved.entries()].map(([what, { owner, via }]) => `${what} → ${via}${ownerText(owner, directory)}`);
      const words = principal.kind === 'resource_owner' ? 'the owner of the requested resource, else its integration\'s owner' : 'the owner of the requested resource\'s integration';
      return { people: found, line: `${principal.kind}: ${words}: ${parts.join('; ') || 'nobody'}` };
    }
  }
}

/** When reminders and the escalation happen: reminders every interval while the request is undecided, escalation at the first reminder past escalateAfter. */
function reminderText(config: LatchConfig, flow: Flow): { reminders: string; escalates: boolean; escalation: string } {
  const { reminderInterval, escalateAfter } = config.settings;
  const timeout = formatDuration(flow.timeout);
  if (reminderInterval >= flow.timeout) {
    return { reminders: `no reminders (it times out after ${timeout}, before the first reminder at ${formatDuration(reminderInterval)})`, escalates: false, escalation: 'never' };
  }
  const firstEscalation = Math.max(1, Math.ceil(escalateAfter / reminderInterval)) * reminderInterval;
  const reminders = `every ${formatDuration(reminderInterval)} until it times out after ${timeout}`;
  if (firstEscalation >= flow.timeout) return { reminders, escalates: false, escalation: `never (it times out after ${timeout}, before escalateAfter ${formatDuration(escalateAfter)})` };
  return { reminders, escalates: true, escalation: `after ${formatDuration(firstEscalation)} undecided` };
}

function planText(plan: NotifyPlan, automatic: boolean): string[] {
  const origin = plan.rule === null ? 'the flow\'s notify' : `routing rule "${plan.rule}"`;
  const channels = plan.channels.map(channelText).join(', ');
  const lines: string[] = [];
  if (!automatic) lines.push(`approval cards: ${plan.approverDMs ? 'by DM to each approver of the current step' : `not by DM (approverDMs: false), only in ${channels}`} (${origin})`);
  if (plan.channels.length === 0) lines.push('channels: none');
  else if (automatic && plan.quietWhenAutomatic) lines.push(`channels: none (quietWhenAutomatic: nothing goes to ${channels} for requests Latch approves itself)`);
  else {
    const card = automatic ? 'the request\'s card when it is granted' : 'the request\'s card';
    const quiet = plan.quietWhenAutomatic ? '; nothing for requests decided automatically' : '';
    lines.push(`channels: ${channels}: ${card}, then every change as a reply in its thread${quiet} (${origin})`);
  }
  return lines;
}

function explainFlow(config: LatchConfig, directory: Directory, flow: Flow): string[] {
  const out: string[] = [];
  const units = offeredUnits(config, flow);
  const requesters = requesterLines(flow, directory);
  const automatic = flow.approval.autoApprove;
  out.push(`flow ${flow.name}${flow.description ? `: ${flow.description}` : ''}`);
  out.push(`  offers: ${units.map((unit) => unit.label).join('; ') || 'nothing'}`);
  out.push(`  who can ask: ${people(requesters.people)}`);
  for (const line of requesters.lines) out.push(`    ${line}`);

  const approvers = new Set<string>();
  if (automatic) {
    out.push('  approval: automatic (approval.autoApprove); nobody is asked');
  } else {
    const grantees = requesters.people;
    flow.approval.steps.forEach((step, index) => {
      const resolved = step.approvers.map((principal) => approverLine(config, directory, flow, principal, grantees, units));
      const asked = sorted(resolved.flatMap((entry) => entry.people));
      asked.forEach((email) => approvers.add(email));
      const open = step.approvers.some((principal) => principal.kind === 'oncall') ? ', plus whoever is on call' : '';
      out.push(`  approval step ${index + 1}${step.name ? ` "${step.name}"` : ''}: ${plural(step.required, 'approval')} needed; asks ${people(asked)}${open}`);
      for (const entry of resolved) out.push(`    ${entry.line}`);
    });
    out.push('    nobody is asked about their own request, and nobody approves two steps of one request');
    const refused = grantees.flatMap((email) => units.filter((unit) => approvalImpossible(config, directory, flow, { requester: email, grantee: email, items: unit.items })).map((unit) => `${email} (${unit.label})`));
    if (refused.length > 0) out.push(`  refused when asked, since too few others could approve: ${refused.join(', ')}`);
  }
  const rules = config.autoDecisions.filter((rule) => !rule.when.flows || rule.when.flows.includes(flow.name));
  if (rules.length > 0) out.push(`  automatic decisions that may decide first: ${rules.map((rule) => `"${rule.name}" (${rule.decision})`).join(', ')}`);

  // Routing can differ by what is asked for: group what the flow offers by where its messages go.
  const groups = new Map<string, { plan: NotifyPlan; labels: string[] }>();
  for (const unit of units) {
    const plan = notifyPlan(config, flow, unit.items);
    const key = JSON.stringify(plan);
    const group = groups.get(key) ?? { plan, labels: [] };
    group.labels.push(unit.label);
    groups.set(key, group);
  }
  const plans = [...groups.values()];
  out.push('  messages:');
  out.push('    the requester (and whoever gets the access): a DM at every change of their request');
  if (plans.length === 1 && plans[0]) {
    for (const line of planText(plans[0].plan, automatic)) out.push(`    ${line}`);
  } else {
    for (const { plan, labels } of plans) {
      out.push(`    for ${labels.join('; ')}:`);
      for (const line of planText(plan, automatic)) out.push(`      ${line}`);
    }
  }
  const integrations = new Set(units.flatMap((unit) => unit.items.map((item) => item.integration)));
  const owners = config.integrations.filter((integration) => integrations.has(integration.name)).flatMap((integration) => ownerPeople(integration.owner, directory));
  const told = [...owners, ...directory.admins()];
  let escalates = false;
  if (!automatic) {
    const timing = reminderText(config, flow);
    escalates = timing.escalates;
    out.push(`    reminders: ${timing.reminders}`);
    out.push(`    escalation: ${timing.escalation}${timing.escalates ? `, to the integration owners and admins (${people(told)})` : ''}`);
  }
  out.push(`    a revoke that keeps failing: an alert to the admins and integration owners (${people(told)})`);

  const dmApprovers = plans.some(({ plan }) => plan.approverDMs) ? [...approvers] : [];
  const everyone = new Set([...requesters.people, ...dmApprovers, ...told]);
  const channels = new Set(plans.flatMap(({ plan }) => (automatic && plan.quietWhenAutomatic ? [] : plan.channels.map(channelText))));
  const parts = [`${plural(requesters.people.length, 'requester')}`];
  if (!automatic) parts.push(`${plural(dmApprovers.length, 'approver')} by DM`);
  parts.push(`${plural(sorted(told).length, 'admin or owner', 'admins and owners')} for ${escalates ? 'escalations and alerts' : 'alerts'}`);
  out.push(`  in all: notifies ${plural(everyone.size, 'person', 'people')} (${parts.join(', ')}) and posts to ${channels.size === 0 ? 'no channel' : `${plural(channels.size, 'channel')} (${[...channels].join(', ')})`}`);
  return out;
}

/** The explanation of a config that loaded without errors. */
export function explainConfig(config: LatchConfig, directory: Directory): string {
  const sections = config.flows.map((flow) => explainFlow(config, directory, flow).join('\n'));
  const unused = (config.settings.routing ?? []).filter((route) => !config.flows.some((flow) => offeredUnits(config, flow).some((unit) => notifyPlan(config, flow, unit.items).rule === route.name)));
  if (unused.length > 0) sections.push(unused.map((route) => `routing rule "${route.name}" decides nothing: an earlier rule matches first, or no flow offers what it matches`).join('\n'));
  return `${sections.join('\n\n')}\n`;
}
