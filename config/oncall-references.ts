// Cross-references of on-call schedules and emergency flows: every `oncall:NAME` points at
// a declared schedule, rota overrides are real time ranges, and an emergency flow grants
// only what exists, to people only.
import type { LatchConfig, Principal } from './schema.js';
import type { ReferenceIssue } from './references.js';

function scheduleRefs(principals: readonly Principal[], path: (string | number)[], declared: ReadonlySet<string>, issues: ReferenceIssue[]): void {
  principals.forEach((principal, index) => {
    if (principal.kind === 'oncall' && !declared.has(principal.schedule)) {
      issues.push({ path: [...path, index], message: `schedule "${principal.schedule}" is not declared under schedules` });
    }
  });
}

export function checkOnCallReferences(config: LatchConfig): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const declared = new Set<string>();
  config.schedules.forEach((schedule, index) => {
    if (declared.has(schedule.name)) issues.push({ path: ['schedules', index, 'name'], message: `schedule "${schedule.name}" is declared twice` });
    declared.add(schedule.name);
    schedule.rota?.overrides.forEach((override, overrideIndex) => {
      if (override.to.replace('T', ' ') <= override.from.replace('T', ' ')) issues.push({ path: ['schedules', index, 'rota', 'overrides', overrideIndex, 'to'], message: 'the override ends before it starts' });
    });
    if (schedule.staleFor < schedule.cacheFor) issues.push({ path: ['schedules', index, 'staleFor'], message: 'staleFor is shorter than cacheFor: a cached answer would outlive its fallback' });
  });
  config.flows.forEach((flow, index) => {
    scheduleRefs(flow.requesters, ['flows', index, 'requesters'], declared, issues);
    flow.approval.steps.forEach((step, stepIndex) => scheduleRefs(step.approvers, ['flows', index, 'approval', 'steps', stepIndex, 'approvers'], declared, issues));
  });
  config.autoDecisions.forEach((rule, index) => scheduleRefs(rule.when.requesters ?? [], ['autoDecisions', index, 'when', 'requesters'], declared, issues));
  checkEmergencyFlows(config, declared, issues);
  return issues;
}

function checkEmergencyFlows(config: LatchConfig, declared: ReadonlySet<string>, issues: ReferenceIssue[]): void {
  const flowNames = new Set(config.flows.map((flow) => flow.name));
  const groups = new Set(config.groups.map((group) => group.name));
  const bundles = new Set(config.bundles.map((bundle) => bundle.name));
  const seen = new Set<string>();
  config.emergency.forEach((flow, index) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ['emergency', index, ...rest];
    // Requests carry their flow's name; one name for two flows would make a request ambiguous.
    if (seen.has(flow.name) || flowNames.has(flow.name)) issues.push({ path: at('name'), message: `"${flow.name}" is already the name of a flow; emergency flows need names of their own` });
    seen.add(flow.name);
    for (const [key, principals] of [['requesters', flow.requesters], ['leads', flow.leads], ['reviewers', flow.reviewers]] as const) {
      scheduleRefs(principals, at(key), declared, issues);
      principals.forEach((principal, principalIndex) => {
        if (principal.kind === 'group' && !groups.has(principal.group)) issues.push({ path: at(key, principalIndex), message: `group "${principal.group}" is not declared under groups` });
        if (principal.kind !== 'user' && principal.kind !== 'group' && principal.kind !== 'oncall') issues.push({ path: at(key, principalIndex), message: `"${principal.kind}" names nobody in an emergency flow; use oncall:SCHEDULE, group:NAME or an e-mail address` });
      });
    }
    if (flow.defaultDuration !== undefined && flow.defaultDuration > flow.maxDuration) issues.push({ path: at('defaultDuration'), message: 'the default duration is longer than maxDuration' });
    flow.access.forEach((entry, entryIndex) => {
      if ('bundle' in entry) {
        if (!bundles.has(entry.bundle)) issues.push({ path: at('access', entryIndex, 'bundle'), message: `bundle "${entry.bundle}" is not declared under bundles` });
        return;
      }
      const integration = config.integrations.find((candidate) => candidate.name === entry.integration);
      if (!integration) {
        issues.push({ path: at('access', entryIndex, 'integration'), message: `integration "${entry.integration}" is not declared under integrations` });
        return;
      }
      if (typeof entry.resources === 'object' && 'names' in entry.resources) {
        entry.resources.names.forEach((name, nameIndex) => {
          if (!integration.resources.some((resource) => resource.name === name)) issues.push({ path: at('access', entryIndex, 'resources', 'names', nameIndex), message: `integration "${entry.integration}" has no resource "${name}"` });
        });
      }
      const offered = new Set(integration.resources.flatMap((resource) => Object.keys(resource.permissions)));
      entry.permissions.forEach((permission, permissionIndex) => {
        if (!offered.has(permission)) issues.push({ path: at('access', entryIndex, 'permissions', permissionIndex), message: `no resource of integration "${entry.integration}" offers permission "${permission}"` });
      });
    });
  });
}
