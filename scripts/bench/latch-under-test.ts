// Latch as the bench drives it: bot/main.ts in a process of its own, a local Slack Web API
// double it posts to, and nothing but signed HTTP requests to its /slack/events. The store
// (SQLite or PostgreSQL) is read, never written, to learn when grants were made and ended.
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startLatchProcess, type LatchProcess } from '../../test/support/latch-process.js';
import { startSlackDouble, type SlackCall, type SlackDouble } from '../../test/support/slack-double.js';
import { blockActionsBody, signSlackRequest, slashCommandBody } from '../../test/support/slack-signing.js';
import { onCleanup } from './cleanup.js';
import { openStoreReader, type StoreReader } from './store-reader.js';
import { waitUntil } from './stats.js';

export const SIGNING_SECRET = 'bench-signing-secret-0123456789abcdef';
const BOT_TOKEN = 'xoxb-bench-token';

export interface Posted {
  status: number;
  /** From the moment the request was due to be sent to the end of the answer. */
  ms: number;
}

export interface StartOptions {
  configFile: string;
  /** DATABASE_URL of Latch's store: `sqlite:PATH` or `postgres://…`. */
  databaseUrl: string;
  /** Slack accounts to create in the double: id and e-mail. */
  people: readonly { slackId: string; email: string }[];
  /** Extra environment for the Latch process. */
  env?: NodeJS.ProcessEnv;
  /** Arguments for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** An already running double to reuse (its accounts are kept). */
  slack?: SlackDouble;
}

/** Signs `body` as Slack would and POSTs it; the time counts from `dueAt` (open-loop pacing) or from now. */
export async function postSigned(url: string, body: string, dueAt = performance.now()): Promise<Posted> {
  const answer = await fetch(url, { method: 'POST', headers: { ...signSlackRequest(body, SIGNING_SECRET) }, body });
  await answer.arrayBuffer();
  return { status: answer.status, ms: performance.now() - dueAt };
}

export class LatchUnderTest {
  private readonly eventsUrl: string;
  private reader: StoreReader | null = null;

  private constructor(readonly process: LatchProcess, readonly slack: SlackDouble, readonly databaseUrl: string) {
    this.eventsUrl = `${process.base}/slack/events`;
  }

  static async start(options: StartOptions): Promise<LatchUnderTest> {
    const slack = options.slack ?? await startSlackDouble();
    if (!options.slack) onCleanup('Slack double', () => slack.close());
    for (const person of options.people) slack.addUser({ id: person.slackId, name: person.slackId.toLowerCase(), email: person.email });
    const child = await startLatchProcess({
      LATCH_CONFIG: options.configFile,
      DATABASE_URL: options.databaseUrl,
      // Beside the run's config, so a PostgreSQL-store run never writes ./data/latch.pid of the checkout.
      LATCH_PID_FILE: join(dirname(options.configFile), 'latch.pid'),
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_API_URL: slack.apiUrl,
      LOG_LEVEL: 'info',
      ...options.env,
    }, 120_000, options.nodeArgs ?? []);
    const latch = new LatchUnderTest(child, slack, options.databaseUrl);
    onCleanup('Latch process', () => latch.stop());
    return latch;
  }

  /** `/access TEXT` as `slackId`; the reply goes to the returned response URL. */
  command(slackId: string, text: string, dueAt?: number): Promise<Posted & { responseUrl: string }> {
    const responseUrl = this.slack.responseUrl();
    const body = slashCommandBody({ userId: slackId, text, triggerId: this.slack.issueTrigger(slackId), responseUrl });
    return postSigned(this.eventsUrl, body, dueAt).then((posted) => ({ ...posted, responseUrl }));
  }

  /** A click on a button of a message in the clicker's DM (an approval card, a credentials DM). */
  click(slackId: string, actionId: string, value: string, dueAt?: number): Promise<Posted & { responseUrl: string }> {
    const responseUrl = this.slack.responseUrl();
    const body = blockActionsBody({ userId: slackId, actionId, value, triggerId: this.slack.issueTrigger(slackId), responseUrl, channelId: `D${slackId}` });
    return postSigned(this.eventsUrl, body, dueAt).then((posted) => ({ ...posted, responseUrl }));
  }

  /** The text Latch posted to a response URL (the ephemeral answer to a command or click). */
  async replyTo(responseUrl: string, timeoutMs = 30_000): Promise<string> {
    const post = await this.slack.waitForResponse((candidate) => candidate.url === responseUrl, timeoutMs);
    return String(post.body.text ?? '');
  }

  /** The request id in the answer to `/access request ...`. */
  async requestIdFrom(responseUrl: string): Promise<string> {
    const text = await this.replyTo(responseUrl);
    const id = /AR-[0-9A-Z]{8}/.exec(text)?.[0];
    if (!id) throw new Error(`Latch answered without a request id: ${text}`);
    return id;
  }

  /** Resolves with the credentials DM of a request once Latch posts it. */
  credentialsDm(slackId: string, requestId: string, timeoutMs = 60_000): Promise<SlackCall> {
    return this.slack.waitFor('chat.postMessage', (call) => call.args.channel === slackId && JSON.stringify(call.args.blocks ?? '').includes(`Access granted: ${requestId}`), timeoutMs);
  }

  /**
   * Waits until Latch has worked off what an earlier phase left (due jobs, queued chat work):
   * nothing due in the store and /healthz answering within 50 ms, so one phase's backlog is
   * not timed as the next one's.
   */
  async settle(timeoutMs = 180_000): Promise<void> {
    await waitUntil('Latch to work off its backlog', async () => {
      if (await this.store().dueJobs(Date.now()) > 0) return undefined;
      const started = performance.now();
      await fetch(`${this.process.base}/healthz`).then((answer) => answer.arrayBuffer());
      return performance.now() - started < 50 ? true : undefined;
    }, timeoutMs, 250).catch((error: unknown) => {
      // A job that keeps failing stays due; the next phase is then measured with it, and says so.
      process.stdout.write(`  warning: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  }

  /** What Latch's store holds, read beside Latch (opened at first use, when migrations have run). */
  store(): StoreReader {
    this.reader ??= openStoreReader(this.databaseUrl);
    return this.reader;
  }

  /** Resident set size of the Latch process, in bytes. */
  rss(): number {
    const status = readFileSync(join('/proc', String(this.process.child.pid), 'status'), 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    if (!kb) throw new Error('no VmRSS for the Latch process');
    return Number(kb) * 1024;
  }

  /** CPU time the Latch process has used so far (user + system), in ms. */
  cpuMs(): number {
    const stat = readFileSync(join('/proc', String(this.process.child.pid), 'stat'), 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  }

  /** Graceful stop (SIGTERM), SIGKILL if it hangs. Safe to call twice. */
  async stop(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await reader?.close();
    const child = this.process.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.process.exited;
    clearTimeout(killer);
    // BENCH_LATCH_LOG=path keeps what Latch logged (pino JSON lines), to see where a figure's time went.
    const logFile = process.env.BENCH_LATCH_LOG;
    if (logFile) appendFileSync(logFile, this.process.lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
  }
}

/** The username and password in a credentials DM: `user=<name>` from the access details, the `password` line. */
export function credentialsFrom(call: SlackCall): { user: string; password: string } {
  const text = JSON.stringify(call.args.blocks ?? []);
  const user = /user=([a-z0-9_]+)/.exec(text)?.[1];
  const password = /\*password:\* `([^`]+)`/.exec(text)?.[1];
  if (!user || !password) throw new Error('the credentials DM carries no user name or password');
  return { user, password };
}
