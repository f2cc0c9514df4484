import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { orgConfig } from '../support/configs.js';
import { startBotConnectorDouble, validateAdaptiveCard } from '../support/teams-connector.js';
import { startTeamsIdentityDouble } from '../support/teams-identity.js';
import { installationUpdateActivity, invokeActivity, messageActivity, postActivity } from '../support/teams-activities.js';
import { startSlackDouble, type SlackDouble } from '../support/slack-double.js';
import { SIGNING_SECRET } from './slack-harness.js';

export const APP_ID = '11111111-2222-3333-4444-555555555555';
export const TENANT = 'tenant-0001';

/** Teams people: user id, AAD object id, e-mail. */
export const T = {
  alice: { id: '29:alice', aadObjectId: 'aad-alice', name: 'Alice', email: 'alice@example.com' },
  bob: { id: '29:bob', aadObjectId: 'aad-bob', name: 'Bob', email: 'bob@example.com' },
  lead: { id: '29:lead', aadObjectId: 'aad-lead', name: 'Lead', email: 'lead@example.com' },
  approver0: { id: '29:approver0', aadObjectId: 'aad-a0', name: 'Approver 0', email: 'approver0@example.com' },
  approver1: { id: '29:approver1', aadObjectId: 'aad-a1', name: 'Approver 1', email: 'approver1@example.com' },
  approver2: { id: '29:approver2', aadObjectId: 'aad-a2', name: 'Approver 2', email: 'approver2@example.com' },
} as const;
export type TeamsPerson = (typeof T)[keyof typeof T];

export type Identity = Awaited<ReturnType<typeof startTeamsIdentityDouble>>;
export type Connector = Awaited<ReturnType<typeof startBotConnectorDouble>>;

export interface TeamsE2E {
  latch: RunningLatch;
  identity: Identity;
  connector: Connector;
  slack: SlackDouble | null;
  base: string;
  personalChat(person: TeamsPerson): string;
  /** The person installs the app: Latch learns how to reach them. */
  install(person: TeamsPerson): Promise<number>;
  say(person: TeamsPerson, text: string, options?: { token?: string | null; id?: string }): Promise<{ status: number; body: unknown }>;
  act(person: TeamsPerson, verb: string, data: Record<string, unknown>, options?: { token?: string | null; id?: string }): Promise<{ status: number; body: unknown }>;
  /** Moves Latch's clock forward (tokens keep real time). */
  advance(ms: number): void;
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startTeamsE2E(options: { withSlack?: boolean; config?: string; clockOffsetMs?: number; env?: Record<string, string>; provisioners?: ProvisionerRegistry } = {}): Promise<TeamsE2E> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-teams-'));
  let offset = options.clockOffsetMs ?? 0;
  writeFileSync(join(dir, 'latch.yaml'), options.config ?? orgConfig());
  const identity = await startTeamsIdentityDouble({ appId: APP_ID });
  const connector = await startBotConnectorDouble();
  for (const person of Object.values(T)) connector.addMember({ id: person.id, aadObjectId: person.aadObjectId, email: person.email, name: person.name });
  const slack = options.withSlack ? await startSlackDouble() : null;
  const env: Record<string, string> = { ...identity.env(), TEAMS_SERVICE_URL: connector.serviceUrl, ...options.env };
  if (slack) {
    Object.assign(env, { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl });
  }
  const latch = await startLatch({
    configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
    logger: pino({ level: 'silent' }), provisioners: options.provisioners ?? new ProvisionerRegistry({}).use('orders', new MemoryProvisioner()), env,
    runner: { sweep: '*/1 * * * * *' },
    // Latch's clock may run ahead (rules with time windows, advance()); tokens keep real time.
    now: () => Date.now() + offset,
  });
  const base = `http://127.0.0.1:${latch.port}`;
  const conversation = (person: TeamsPerson): { id: string; conversationType: 'personal'; tenantId: string } => ({ id: `a:personal-${person.aadObjectId}`, conversationType: 'personal', tenantId: TENANT });
  const from = (person: TeamsPerson): { id: string; aadObjectId: string; name: string } => ({ id: person.id, aadObjectId: person.aadObjectId, name: person.name });
  const token = (): string => identity.mintToken({ serviceUrl: connector.serviceUrl });
  const e2e: TeamsE2E = {
    latch, identity, connector, slack, base,
    personalChat: (person) => conversation(person).id,
    async install(person) {
      const answer = await postActivity(base, installationUpdateActivity({ action: 'add', from: from(person), conversation: conversation(person), serviceUrl: connector.serviceUrl }), token());
      return answer.status;
    },
    async say(person, text, sayOptions = {}) {
      const activity = messageActivity({ from: from(person), text, conversation: conversation(person), serviceUrl: connector.serviceUrl, ...(sayOptions.id ? { id: sayOptions.id } : {}) });
      return postActivity(base, activity, sayOptions.token === undefined ? token() : sayOptions.token);
    },
    async act(person, verb, data, actOptions = {}) {
      const activity = invokeActivity({
        name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
        from: from(person), conversation: conversation(person), serviceUrl: connector.serviceUrl, ...(actOptions.id ? { id: actOptions.id } : {}),
      });
      const answer = await postActivity(base, activity, actOptions.token === undefined ? token() : actOptions.token);
      // The card in an invoke answer is shown by Teams like any other: it must parse too.
      const card = (answer.body as { value?: unknown } | null)?.value;
      if (card && typeof card === 'object') {
        const problems = validateAdaptiveCard(card);
        if (problems.length > 0) throw new Error(`Teams would reject the card Latch answered with: ${problems.join('; ')}`);
      }
      return answer;
    },
    advance(ms) {
      offset += ms;
    },
    async settle() {
      await latch.runner.runDue();
    },
    async close() {
      await latch.stop();
      await connector.close();
      await identity.close();
      await slack?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return e2e;
}

/**
 * Closes what a test started on either platform and returns the cards Teams would have
 * rejected, so the test's afterEach can fail on them.
 */
export async function closeBoth(slack: { close(): Promise<void> } | undefined, teams: TeamsE2E | undefined): Promise<TeamsE2E['connector']['cardErrors']> {
  await slack?.close();
  const rejected = teams?.connector.cardErrors ?? [];
  await teams?.close();
  return rejected;
}
