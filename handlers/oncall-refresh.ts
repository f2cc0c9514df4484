// Shift approvers and requesters (`oncall:NAME` in a flow) are checked against the
// directory, which answers from what Latch last read; before a decision that depends on
// them, the schedules it names are read now (within their short cache).
import type { ApprovalStep, LatchConfig } from '../config/schema.js';
import type { LatchContext } from './context.js';

/** The schedules a step's approvers name. */
export function stepSchedules(step: ApprovalStep | undefined): string[] {
  return (step?.approvers ?? []).flatMap((principal) => (principal.kind === 'oncall' ? [principal.schedule] : []));
}

/** Every schedule the ordinary flows and automatic decisions name, as requesters or approvers. */
export function flowSchedules(config: LatchConfig): string[] {
  const named = new Set<string>();
  for (const flow of config.flows) {
    for (const principal of [...flow.requesters, ...flow.approval.steps.flatMap((step) => step.approvers)]) if (principal.kind === 'oncall') named.add(principal.schedule);
  }
  for (const rule of config.autoDecisions) for (const principal of rule.when.requesters ?? []) if (principal.kind === 'oncall') named.add(principal.schedule);
  return [...named];
}

/** Reads the schedules now, so the directory's answer for them is current. */
export async function refreshOnCall(ctx: LatchContext, schedules: Iterable<string>): Promise<void> {
  if (!ctx.oncall) return;
  await Promise.all([...new Set(schedules)].map((schedule) => ctx.oncall?.lookup(schedule)));
}
