// Approve → usable credential: from the Approve click (a signed interactive payload) to the
// first successful login with the credentials Latch delivered by DM, read from the Slack
// double's chat.postMessage. The floor is the provisioner's own statements run directly
// with the driver, then the same login.
import { mysqlLogin, pgLogin, type BenchBackends } from '../backends.js';
import { APPROVER, REQUESTS } from '../bench-config.js';
import { figureOf, type Figure } from '../figure.js';
import { mysqlGrantFloor, postgresGrantFloor } from '../floors.js';
import { credentialsFrom, type LatchUnderTest } from '../latch-under-test.js';
import { sleep } from '../stats.js';

export type Backend = 'postgresql' | 'mariadb';

/** Logs in until it works (the DM can arrive a moment before a replica would see the account; here it should not). */
async function firstLogin(backend: Backend, user: string, password: string, database: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      if (backend === 'postgresql') await pgLogin(user, password, database);
      else await mysqlLogin(user, password, database);
      return;
    } catch (error) {
      if (attempt >= 200) throw error;
      await sleep(5);
    }
  }
}

/**
 * One approval, timed. Before the clock starts the request is made, its approval card
 * delivered and Latch idle again: a person reads the card before clicking, so the click is
 * not timed against the request's own notifications still being sent.
 */
async function approveOnce(latch: LatchUnderTest, backends: BenchBackends, backend: Backend, requester: { slackId: string }): Promise<{ ms: number; requestId: string }> {
  const typed = backend === 'postgresql' ? REQUESTS.postgresApproved : REQUESTS.mysqlApproved;
  const asked = await latch.command(requester.slackId, typed);
  const requestId = await latch.requestIdFrom(asked.responseUrl);
  await latch.slack.waitFor('chat.postMessage', (call) => call.args.channel === APPROVER.slackId && JSON.stringify(call.args.blocks ?? '').includes(requestId), 30_000);
  await latch.settle();
  const delivered = latch.credentialsDm(requester.slackId, requestId);
  const started = performance.now();
  const click = await latch.click(APPROVER.slackId, 'latch.approve', requestId);
  if (click.status !== 200) throw new Error(`Approve answered ${click.status}`);
  const { user, password } = credentialsFrom(await delivered);
  await firstLogin(backend, user, password, backends.database);
  return { ms: performance.now() - started, requestId };
}

/**
 * The figure, and the approved requests (a decided request to click on later). Each approval
 * is followed by one floor sample, both with Latch idle, so a machine whose load drifts during
 * the run moves both alike and the ratio stays comparable from run to run.
 */
export async function approveToUsable(latch: LatchUnderTest, backends: BenchBackends, backend: Backend, requesters: readonly { slackId: string }[]): Promise<{ figure: Figure; approved: string[] }> {
  const samples: number[] = [];
  const approved: string[] = [];
  const floor: number[] = [];
  const floorGrant = backend === 'postgresql' ? postgresGrantFloor : mysqlGrantFloor;
  for (const [index, requester] of requesters.entries()) {
    const { ms, requestId } = await approveOnce(latch, backends, backend, requester);
    samples.push(ms);
    approved.push(requestId);
    await latch.settle();
    floor.push(await floorGrant(backends, index));
  }
  // The same floor taken back to back, for comparison with runs before the interleaving: a hot loop, lower.
  const backToBack: number[] = [];
  for (let index = 0; index < requesters.length; index += 1) backToBack.push(await floorGrant(backends, requesters.length + index));
  const hot = [...backToBack].sort((a, b) => a - b)[Math.floor(backToBack.length / 2)] ?? 0;
  const figure = figureOf(`approve_to_usable.${backend}`, `approve → usable credential (${backend === 'postgresql' ? 'PostgreSQL' : 'MariaDB'})`, 'ms', samples, floor,
    `${samples.length} approvals one after another, each followed by a floor sample: the same CREATE/GRANT statements direct, then a login (back to back the floor's median is ${hot.toFixed(1)} ms)`);
  return { figure, approved };
}
