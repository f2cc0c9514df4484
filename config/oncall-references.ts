// Cross-references of on-call schedules: every `oncall:NAME` points at a declared
// schedule, and rota overrides are real time ranges.
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
  return issues;
}
