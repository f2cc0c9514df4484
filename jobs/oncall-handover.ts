// Re-routes a pending request whose approvers are whoever is on call: when the shift has
// changed hands since its cards went out, the people now on call get the card (and those
// who handed over can no longer decide: the approver check reads the schedule at the click).
import { currentApprovers } from '../core/policy.js';
import type { LatchContext } from '../handlers/context.js';
import { handoverJob } from '../handlers/handover-jobs.js';
import { refreshOnCall, stepSchedules } from '../handlers/oncall-refresh.js';
import type { Job } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';
import { summary } from './notify.js';
import { recipientsFor } from './recipients.js';

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : []);

export const runOncallHandover: JobHandler = async (job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const record = job.requestId ? await ctx.store.getRequest(job.requestId) : null;
  if (!record || record.request.state !== 'pending') return { status: 'done' };
  const { request } = record;
  const { config, directory } = ctx.current();
  const flow = config.flows.find((candidate) => candidate.name === request.flow);
  if (!flow) return { status: 'done' };
  const schedules = stepSchedules(flow.approval.steps[request.step]);
  const now = ctx.now();
  const round = Number(job.payload.round ?? 1) + 1;
  await refreshOnCall(ctx, schedules);
  const approvers = [...currentApprovers(config, directory, request, record.grants, record.decisions)];
  // A new step was asked for by its own notification; from here on its approvers are the ones routed to.
  const routed = Number(job.payload.step ?? 0) === request.step ? strings(job.payload.routed) : approvers;
  const added = approvers.filter((email) => !routed.includes(email));
  const removed = routed.filter((email) => !approvers.includes(email));
  const next = handoverJob(flow, request, now, approvers, round);
  if (added.length === 0 && removed.length === 0) return { status: 'done', change: { enqueue: next } };
  if (added.length > 0) {
    const { people } = recipientsFor(config, directory, record, 'approval_requested');
    try {
      await ctx.notifier.notify({
        event: 'approval_requested', record, recipients: people.filter((email) => added.includes(email)), channels: [],
        text: summary(record, 'approval_requested', now, flow), history: null, key: `job:${job.id}`,
      });
    } catch (error) {
      return { status: 'retry', error: errorText(error) };
    }
  }
  ctx.log.info({ requestId: request.id, schedules, added, removed }, `request ${request.id}: the on-call shift changed hands; the approval was re-routed`);
  return {
    status: 'done',
    change: {
      audit: [{ type: 'approval.rerouted', requestId: request.id, actor: 'latch', at: now, data: { step: request.step, schedules, added, removed } }],
      enqueue: next,
    },
  };
};
