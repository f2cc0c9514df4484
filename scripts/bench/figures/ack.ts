// Ack latency: how long Slack waits for Latch's HTTP answer to a slash command and to a button
// click, at a steady open-loop load, next to a bare fastify server answering the same signed
// POSTs with an empty 200 (same machine, same load generator).
import { blockActionsBody, slashCommandBody } from '../../../test/support/slack-signing.js';
import { figureOf, type Figure } from '../figure.js';
import type { LatchUnderTest } from '../latch-under-test.js';
import { postSigned } from '../latch-under-test.js';
import { openLoop, type LoadResult } from '../load-generator.js';

export type AckKind = 'command' | 'click';

export interface AckSetup {
  latch: LatchUnderTest;
  floorUrl: string;
  /** Slack ids of the people who send the load, already known to Latch. */
  senders: readonly string[];
  /** A request that is already decided: clicking Approve on it is answered "already approved". */
  decidedRequestId: string;
}

/** The signed body of request `index` of a load of `kind`: `/access list`, or an Approve click. */
function bodyFor(setup: AckSetup, kind: AckKind, index: number): string {
  const { slack } = setup.latch;
  const userId = setup.senders[index % setup.senders.length] as string;
  if (kind === 'command') return slashCommandBody({ userId, text: 'list', triggerId: slack.issueTrigger(userId), responseUrl: slack.responseUrl() });
  return blockActionsBody({ userId, actionId: 'latch.approve', value: setup.decidedRequestId, triggerId: slack.issueTrigger(userId), responseUrl: slack.responseUrl(), channelId: `D${userId}` });
}

function failuresText(result: LoadResult): string {
  if (result.failures.size === 0) return '';
  return `; not 200: ${[...result.failures].map(([status, count]) => `${count}×${status === 0 ? 'no answer' : status}`).join(', ')}`;
}

/** One load of `kind` at `rate` against Latch and against the floor server. */
export async function ackUnderLoad(setup: AckSetup, kind: AckKind, rate: number, seconds: number): Promise<Figure> {
  const eventsUrl = `${setup.latch.process.base}/slack/events`;
  const floor = await openLoop(rate, seconds, (index, dueAt) => postSigned(setup.floorUrl, bodyFor(setup, kind, index), dueAt));
  const cpuBefore = setup.latch.cpuMs();
  const latch = await openLoop(rate, seconds, (index, dueAt) => postSigned(eventsUrl, bodyFor(setup, kind, index), dueAt));
  const cpuPerRequest = (setup.latch.cpuMs() - cpuBefore) / latch.latencies.length;
  const what = kind === 'command' ? 'slash command (/access list)' : 'button click (Approve)';
  return figureOf(`ack.${kind}.${rate}`, `ack: ${what} at ${rate}/s`, 'ms', latch.latencies, floor.latencies,
    `${latch.latencies.length} requests in ${seconds} s, offered ${latch.offeredRate.toFixed(0)}/s, Latch used ${cpuPerRequest.toFixed(1)} ms CPU per request${failuresText(latch)}`);
}
