import { offeredItems } from '../core/policy.js';
import { notifyPlan } from '../core/routing.js';
import { levelRank, PERMISSION_LEVELS, Resource, type LatchConfig, type Principal } from './schema.js';
import { checkOnCallReferences } from './oncall-references.js';
import { checkIdentitySourceReferences } from './identity-source-references.js';
import { checkDiscoveryReferences } from './discovery-references.js';

/** A mistake found after the shape was valid: a name that points nowhere, a cycle, a contradiction. */
export interface ReferenceIssue {
  path: (string | number)[];
  message: string;
}

function duplicates<T>(items: T[], nameOf: (item: T) => string, path: string, what: string, issues: ReferenceIssue[]): void {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const name = nameOf(item);
    if (seen.has(name)) issues.push({ path: [path, index], message: `${what} "${name}" is declared twice` });
    seen.add(name);
  });
}

function groupCycle(config: LatchConfig): { group: string; index: number; cycle: string[] } | null {
  const members = new Map(config.groups.map((group) => [group.name, group.members.filter((m) => m.startsWith('group:')).map((m) => m.slice(6))]));
  const visiting: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): string[] | null => {
    if (done.has(name)) return null;
    const at = visiting.indexOf(name);
    if (at >= 0) return [...visiting.slice(at), name];
    visiting.push(name);
    for (const child of members.get(name) ?? []) {
      const cycle = visit(child);
      if (cycle) return cycle;
    }
    visiting.pop();
    done.add(name);
    return null;
  };
  for (const group of config.groups) {
    const cycle = visit(group.name);
    // Point at the group where the cycle starts: the group visited first may only lead into it.
    const start = cycle?.[0];
    if (cycle && start) return { group: start, index: config.groups.findIndex((candidate) => candidate.name === start), cycle };
  }
  return null;
}

export function checkReferences(config: LatchConfig): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const groups = new Set(config.groups.map((group) => group.name));
  const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));
  const bundles = new Set(config.bundles.map((bundle) => bundle.name));
  // A flow may name an rdsDiscovery block: it offers the block's template on every instance found, none at load time.
  const discoveries = new Map(config.rdsDiscovery.map((block) => [block.name, { resources: block.resources.map((resource) => Resource.parse(resource)) }]));

  duplicates(config.identities, (identity) => identity.email, 'identities', 'identity', issues);
  duplicates(config.groups, (group) => group.name, 'groups', 'group', issues);
  duplicates(config.integrations, (integration) => integration.name, 'integrations', 'integration', issues);
  duplicates(config.bundles, (bundle) => bundle.name, 'bundles', 'bundle', issues);
  duplicates(config.flows, (flow) => flow.name, 'flows', 'flow', issues);
  duplicates(config.auditSinks, (sink) => sink.name, 'auditSinks', 'audit sink', issues);
  duplicates(config.rdsDiscovery, (block) => block.name, 'rdsDiscovery', 'RDS discovery', issues);

  const groupRef = (name: string, path: (string | number)[]): void => {
    if (!groups.has(name)) issues.push({ path, message: `group "${name}" is not declared under groups` });
  };
  const principalRefs = (principals: Principal[], path: (string | number)[], allowRelative: boolean): void => {
    principals.forEach((principal, index) => {
      if (principal.kind === 'group') groupRef(principal.group, [...path, index]);
      if (!allowRelative && principal.kind !== 'user' && principal.kind !== 'group' && principal.kind !== 'oncall') {
        issues.push({ path: [...path, index], message: `"${principal.kind}" only makes sense for approvers, not requesters` });
      }
    });
  };

  config.rdsDiscovery.forEach((block, index) => {
    if (integrations.has(block.name)) issues.push({ path: ['rdsDiscovery', index, 'name'], message: `"${block.name}" is also an integration's name; flows name either, so they must differ` });
    if (block.owner.startsWith('group:')) groupRef(block.owner.slice(6), ['rdsDiscovery', index, 'owner']);
  });
  config.groups.forEach((group, index) => {
    group.members.forEach((member, memberIndex) => {
      if (member.startsWith('group:')) groupRef(member.slice(6), ['groups', index, 'members', memberIndex]);
    });
  });
  const cycle = groupCycle(config);
  if (cycle) issues.push({ path: ['groups', cycle.index], message: `groups contain each other in a cycle: ${cycle.cycle.join(' → ')}` });

  config.settings.admins.forEach((admin, index) => {
    if (admin.kind === 'group') groupRef(admin.group, ['settings', 'admins', index]);
  });
  config.identities.forEach((identity, index) => {
    if (identity.manager === identity.email) issues.push({ path: ['identities', index, 'manager'], message: 'a person cannot be their own manager' });
  });

  config.integrations.forEach((integration, index) => {
    if (integration.owner.kind === 'group') groupRef(integration.owner.group, ['integrations', index, 'owner']);
    duplicates(integration.resources, (resource) => resource.name, `integrations.${index}.resources`, 'resource', issues);
    integration.resources.forEach((resource, resourceIndex) => {
      if (resource.owner?.kind === 'group') groupRef(resource.owner.group, ['integrations', index, 'resources', resourceIndex, 'owner']);
      const { maxLevel } = integration;
      if (maxLevel === undefined) return;
      for (const permission of Object.keys(resource.permissions)) {
        const level = resource.levels[permission];
        const path = ['integrations', index, 'resources', resourceIndex, 'permissions', permission];
        if (level === undefined) issues.push({ path, message: `permission "${permission}" says no level; with maxLevel ${maxLevel} on the integration every permission needs level: ${PERMISSION_LEVELS.join(' | ')}` });
        else if (levelRank(level) > levelRank(maxLevel)) issues.push({ path: [...path, 'level'], message: `permission "${permission}" is ${level}, above the integration's maxLevel ${maxLevel}; Latch will never grant it` });
      }
    });
  });
  // duplicates() above reports nested paths as one dotted segment; split them for line lookup.
  for (const issue of issues) issue.path = issue.path.flatMap((segment) => (typeof segment === 'string' ? segment.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part)) : [segment]));

  const itemRef = (integrationName: string, resourceName: string, permission: string | null, path: (string | number)[]): void => {
    const integration = integrations.get(integrationName);
    if (!integration) {
      issues.push({ path: [...path, 'integration'], message: `integration "${integrationName}" is not declared under integrations` });
      return;
    }
    const resource = integration.resources.find((candidate) => candidate.name === resourceName);
    if (!resource) {
      issues.push({ path: [...path, 'resource'], message: `integration "${integrationName}" has no resource "${resourceName}"` });
      return;
    }
    if (permission !== null && !(permission in resource.permissions)) {
      issues.push({ path: [...path, 'permission'], message: `resource "${integrationName}/${resourceName}" offers no permission "${permission}" (it offers: ${Object.keys(resource.permissions).join(', ')})` });
    }
  };

  config.bundles.forEach((bundle, index) => {
    bundle.items.forEach((item, itemIndex) => itemRef(item.integration, item.resource, item.permission, ['bundles', index, 'items', itemIndex]));
  });

  config.flows.forEach((flow, index) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ['flows', index, ...rest];
    principalRefs(flow.requesters, at('requesters'), false);
    flow.approval.steps.forEach((step, stepIndex) => principalRefs(step.approvers, at('approval', 'steps', stepIndex, 'approvers'), true));
    const rule = flow.reason;
    if (rule?.pattern !== undefined) {
      try {
        new RegExp(rule.pattern);
      } catch (error) {
        issues.push({ path: at('reason', 'pattern'), message: `"${rule.pattern}" is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
    if (rule?.patternError !== undefined && rule.pattern === undefined) issues.push({ path: at('reason', 'patternError'), message: 'patternError needs a pattern to go with it' });
    if (rule?.link !== undefined) {
      if (rule.pattern === undefined) issues.push({ path: at('reason', 'link'), message: 'link needs a pattern: Latch links the part of the reason the pattern matches' });
      if (!/^https:\/\/[^\s<>|"]+$/.test(rule.link)) issues.push({ path: at('reason', 'link'), message: 'link must be an https:// URL without spaces, quotes, "<", ">" or "|"' });
      else if (!rule.link.includes('{{reference}}')) issues.push({ path: at('reason', 'link'), message: 'link must contain {{reference}}, where the ticket or incident id goes' });
    }
    const { step, maxTotal } = flow.extensions;
    if (step !== undefined && step > flow.duration.max) issues.push({ path: at('extensions', 'step'), message: 'the extension step is longer than the flow\'s maximum duration' });
    if (step !== undefined && maxTotal !== undefined && maxTotal < step) issues.push({ path: at('extensions', 'maxTotal'), message: 'maxTotal is shorter than one extension step: no extension could ever be granted' });
    if (flow.duration.default > flow.duration.max) {
      issues.push({ path: at('duration', 'default'), message: 'the default duration is longer than the maximum' });
    }
    if (!flow.approval.autoApprove && flow.approval.steps.length === 0) {
      issues.push({ path: at('approval'), message: 'no approval steps and autoApprove is false: nobody could ever approve a request (add steps or set autoApprove: true)' });
    }
    if (flow.approval.autoApprove && flow.approval.steps.length > 0) {
      issues.push({ path: at('approval', 'autoApprove'), message: 'autoApprove is true but steps are listed too; choose one' });
    }
    flow.access.forEach((entry, entryIndex) => {
      if ('bundle' in entry) {
        if (!bundles.has(entry.bundle)) issues.push({ path: at('access', entryIndex, 'bundle'), message: `bundle "${entry.bundle}" is not declared under bundles` });
        return;
      }
      const integration = integrations.get(entry.integration) ?? discoveries.get(entry.integration);
      if (!integration) {
        issues.push({ path: at('access', entryIndex, 'integration'), message: `integration "${entry.integration}" is not declared under integrations` });
        return;
      }
      const names = new Set(integration.resources.map((resource) => resource.name));
      if (typeof entry.resources === 'object' && 'names' in entry.resources) {
        entry.resources.names.forEach((name, nameIndex) => {
          if (!names.has(name)) issues.push({ path: at('access', entryIndex, 'resources', 'names', nameIndex), message: `integration "${entry.integration}" has no resource "${name}"` });
        });
      }
      if (typeof entry.resources === 'object' && 'pattern' in entry.resources) {
        try {
          new RegExp(globToRegExpSource(entry.resources.pattern));
        } catch {
          issues.push({ path: at('access', entryIndex, 'resources', 'pattern'), message: `"${entry.resources.pattern}" is not a valid pattern` });
        }
      }
      entry.exclude.forEach((name, nameIndex) => {
        if (!names.has(name)) issues.push({ path: at('access', entryIndex, 'exclude', nameIndex), message: `integration "${entry.integration}" has no resource "${name}" to exclude` });
      });
      const offered = new Set(integration.resources.flatMap((resource) => Object.keys(resource.permissions)));
      entry.permissions.forEach((permission, permissionIndex) => {
        if (!offered.has(permission)) issues.push({ path: at('access', entryIndex, 'permissions', permissionIndex), message: `no resource of integration "${entry.integration}" offers permission "${permission}"` });
      });
    });
    flow.approval.steps.forEach((step, stepIndex) => {
      const people = step.approvers.filter((principal) => principal.kind === 'user').length;
      const openEnded = step.approvers.some((principal) => principal.kind !== 'user');
      if (!openEnded && step.required > people) {
        issues.push({ path: at('approval', 'steps', stepIndex, 'required'), message: `${step.required} approvals are required but only ${people} approver(s) are named` });
      }
    });
  });
  duplicates(config.autoDecisions, (rule) => rule.name, 'autoDecisions', 'automatic decision', issues);
  const flowNames = new Set(config.flows.map((flow) => flow.name));
  const everyResource = [...config.integrations, ...discoveries.values()].flatMap((integration) => integration.resources);
  const resourceNames = new Set(everyResource.map((resource) => resource.name));
  const permissionNames = new Set(everyResource.flatMap((resource) => Object.keys(resource.permissions)));
  config.autoDecisions.forEach((rule, index) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ['autoDecisions', index, 'when', ...rest];
    rule.when.flows?.forEach((name, i) => { if (!flowNames.has(name)) issues.push({ path: at('flows', i), message: `flow "${name}" is not declared under flows` }); });
    rule.when.integrations?.forEach((name, i) => { if (!integrations.has(name) && !discoveries.has(name)) issues.push({ path: at('integrations', i), message: `integration "${name}" is not declared under integrations` }); });
    rule.when.resources?.forEach((name, i) => { if (!resourceNames.has(name)) issues.push({ path: at('resources', i), message: `no integration has a resource "${name}"` }); });
    rule.when.permissions?.forEach((name, i) => { if (!permissionNames.has(name)) issues.push({ path: at('permissions', i), message: `no resource offers permission "${name}"` }); });
    if (rule.when.requesters) principalRefs(rule.when.requesters, at('requesters'), false);
    if (rule.when.window && rule.when.window.from === rule.when.window.to) issues.push({ path: at('window', 'to'), message: 'the window opens and closes at the same time' });
    if (rule.decision === 'deny' && !rule.reason) issues.push({ path: ['autoDecisions', index, 'decision'], message: 'a deny rule needs a reason: it is what the requester is told' });
  });
  checkRouting(config, issues);
  issues.push(...checkOnCallReferences(config));
  issues.push(...checkDiscoveryReferences(config));
  issues.push(...checkIdentitySourceReferences(config));
  return issues;
}

/** Routing rules must point at what exists, and change something; a rule that can never match is a mistake. */
function checkRouting(config: LatchConfig, issues: ReferenceIssue[]): void {
  const routes = config.settings.routing ?? [];
  const names = new Set<string>();
  routes.forEach((route, index) => {
    if (names.has(route.name)) issues.push({ path: ['settings', 'routing', index, 'name'], message: `routing rule "${route.name}" is declared twice` });
    names.add(route.name);
  });
  const flows = new Set(config.flows.map((flow) => flow.name));
  const integrations = new Set([...config.integrations.map((integration) => integration.name), ...config.rdsDiscovery.map((block) => block.name)]);
  const resources = [...config.integrations.flatMap((integration) => integration.resources), ...config.rdsDiscovery.flatMap((block) => block.resources.map((resource) => Resource.parse(resource)))];
  const labels = new Set(resources.flatMap((resource) => resource.labels));
  const levels = new Set(resources.flatMap((resource) => Object.values(resource.levels)));
  routes.forEach((route, index) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ['settings', 'routing', index, ...rest];
    route.when.flows?.forEach((name, i) => { if (!flows.has(name)) issues.push({ path: at('when', 'flows', i), message: `flow "${name}" is not declared under flows` }); });
    route.when.integrations?.forEach((name, i) => { if (!integrations.has(name)) issues.push({ path: at('when', 'integrations', i), message: `integration "${name}" is not declared under integrations` }); });
    route.when.resources?.forEach((name, i) => { if (!resources.some((resource) => resource.name === name)) issues.push({ path: at('when', 'resources', i), message: `no integration has a resource "${name}"` }); });
    route.when.labels?.forEach((name, i) => { if (!labels.has(name)) issues.push({ path: at('when', 'labels', i), message: `no resource has the label "${name}"` }); });
    route.when.levels?.forEach((level, i) => { if (!levels.has(level)) issues.push({ path: at('when', 'levels', i), message: `no permission has level ${level}, so this rule never matches (set level: on the permissions)` }); });
    if (route.approverDMs === undefined && route.channels === undefined && route.quietWhenAutomatic === undefined) {
      issues.push({ path: at('name'), message: 'the rule changes nothing: set approverDMs, channels or quietWhenAutomatic' });
    }
  });
  // Fail closed: an approval card that reaches nobody leaves the request waiting until it times out.
  config.flows.forEach((flow, index) => {
    if (flow.approval.steps.length === 0) return;
    for (const item of offeredItems(config, flow)) {
      const plan = notifyPlan(config, flow, [item]);
      if (plan.approverDMs || plan.channels.length > 0) continue;
      const where = plan.rule === null ? ['flows', index, 'notify'] : ['settings', 'routing', routes.findIndex((route) => route.name === plan.rule)];
      const by = plan.rule === null ? `flow "${flow.name}"` : `routing rule "${plan.rule}"`;
      issues.push({ path: where, message: `${by} sends the approval cards for ${item.permission} on ${item.integration}/${item.resource} nowhere: approverDMs is false and no channel is named` });
      return;
    }
  });
}

/** Resource patterns are globs: `*` is any run of characters, `?` one character. */
export function globToRegExpSource(glob: string): string {
  return `^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`;
}
