// What the fault tests break: Latch as operators run it (bot/main.ts in its own process,
// SQLite store on disk), a real PostgreSQL database for the grants, and the Slack double
// it talks to. The test process only sends signed Slack requests and reads the results
// from Slack, PostgreSQL and the store file, so a SIGKILL hits exactly what production runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startLatchProcess, type LatchProcess } from '../../support/latch-process.js';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../../support/postgres.js';
import { startSlackDouble, type ResponseUrlPost, type SlackDouble } from '../../support/slack-double.js';
import { blockActionsBody, postToSlackEvents, slashCommandBody } from '../../support/slack-signing.js';

export const SIGNING_SECRET = 'fault-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-fault-0000000000-secret';
export const LEAD = { id: 'ULEAD', email: 'lead@example.com' } as const;
export const ADMIN = { id: 'USEC', email: 'sec@example.com' } as const;

export const engineerId = (index: number): string => `UENG${index}`;
export const engineerEmail = (index: number): string => `eng${index}@example.com`;

export interface FaultStackOptions {
  engineers: number;
  /** Where the integration reaches PostgreSQL; a proxy port takes the backend away on demand. */
  pgPort?: number;
  /** The integration's connection pool size per database (default: the provisioner's). */
  pgMaxConnections?: number;
  /** Extra lines under `settings:`. */
  settings?: string;
  /** Environment for the Latch process on top of the stack's own. */
  env?: NodeJS.ProcessEnv;
}

export interface Sent {
  /** 0 when nothing answered (Latch was down). */
  status: number;
  responseUrl: string;
}

export interface GrantRow {
  id: string;
  request_id: string;
  state: string;
  principal: string | null;
  revoked_at: number | null;
  expires_at: number | null;
  request_state: string;
}

export interface FaultStack {
  db: TestDatabase;
  slack: SlackDouble;
  dir: string;
  dbFile: string;
  readonly latch: LatchProcess | null;
  start(): Promise<LatchProcess>;
  /** SIGKILL: no shutdown code runs. */
  kill(): Promise<void>;
  /** SIGTERM: the graceful stop. */
  stop(): Promise<void>;
  command(userId: string, text: string): Promise<Sent>;
  click(userId: string, actionId: string, value: string): Promise<Sent>;
  /** The first ephemeral answer posted to `responseUrl`, or null when none came in time. */
  answer(responseUrl: string, timeoutMs?: number): Promise<ResponseUrlPost | null>;
  /** Read-only queries of the store file, also while Latch writes it. */
  rows<T>(sql: string, ...params: unknown[]): T[];
  grants(): GrantRow[];
  /** Login roles Latch made for this run that still exist in PostgreSQL. */
  managedRoles(): Promise<string[]>;
  close(): Promise<void>;
}

function config(db: TestDatabase, pgPort: number, settings: string, engineers: number, maxConnections?: number): string {
  const members = Array.from({ length: engineers }, (_, index) => engineerEmail(index)).join(', ');
  return `version: 1
settings:
  instance: ${db.instance}
  admins: [${ADMIN.email}]
  expiryWarning: 1s
${settings}
groups:
  - { name: engineers, members: [${members}] }
integrations:
  - name: pg
    type: postgresql
    connection: { host: ${PG_HOST}, port: ${pgPort}, user: postgres, database: postgres${maxConnections ? `, maxConnections: ${maxConnections}` : ''} }
    credentials: { none: true }
    owner: ${LEAD.email}
    accessDetails: "psql -h {{host}} -p {{port}} -U {{username}} {{database}}"
    resources:
      - name: app
        settings: { databases: [${db.database}] }
        permissions:
          read: { roles: [${db.readRole}] }
          write: { roles: [${db.writeRole}] }
flows:
  - name: read
    requesters: [group:engineers]
    access: [{ integration: pg, resources: any, permissions: [read] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 4h }
    justification: optional
  - name: write
    requesters: [group:engineers]
    access: [{ integration: pg, resources: any, permissions: [write] }]
    approval: { steps: [{ approvers: [${LEAD.email}] }] }
    duration: { default: 1h, max: 4h }
    justification: optional
`;
}

export async function createFaultStack(options: FaultStackOptions): Promise<FaultStack> {
  const db = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'latch-faults-'));
  const dbFile = join(dir, 'latch.db');
  const configFile = join(dir, 'latch.yaml');
  writeFileSync(configFile, config(db, options.pgPort ?? PG_PORT, options.settings ?? '', options.engineers, options.pgMaxConnections));
  const slack = await startSlackDouble();
  for (let index = 0; index < options.engineers; index += 1) slack.addUser({ id: engineerId(index), name: `eng${index}`, email: engineerEmail(index) });
  slack.addUser({ id: LEAD.id, name: 'lead', email: LEAD.email });
  slack.addUser({ id: ADMIN.id, name: 'sec', email: ADMIN.email });
  const env: NodeJS.ProcessEnv = {
    SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    DATABASE_URL: `sqlite:${dbFile}`, LATCH_CONFIG: configFile, LOG_LEVEL: 'info', ...options.env,
  };
  let latch: LatchProcess | null = null;
  let reader: Database.Database | null = null;
  let counter = 0;

  const send = async (body: string): Promise<number> => {
    if (!latch) return 0;
    try {
      return (await postToSlackEvents(latch.base, body, SIGNING_SECRET)).status;
    } catch {
      return 0;
    }
  };
  const store = (): Database.Database => {
    reader ??= new Database(dbFile, { readonly: true, fileMustExist: true });
    return reader;
  };

  const stack: FaultStack = {
    db, slack, dir, dbFile,
    get latch() { return latch; },
    async start() {
      latch = await startLatchProcess(env);
      return latch;
    },
    async kill() {
      const running = latch;
      latch = null;
      if (!running || running.child.exitCode !== null) return;
      running.child.kill('SIGKILL');
      await running.exited;
    },
    async stop() {
      const running = latch;
      latch = null;
      if (!running || running.child.exitCode !== null) return;
      running.child.kill('SIGTERM');
      const { code } = await running.exited;
      if (code !== 0) throw new Error(`Latch exited with ${String(code)} after SIGTERM:\n${running.stderr()}`);
    },
    async command(userId, text) {
      const responseUrl = slack.responseUrl();
      const status = await send(slashCommandBody({ userId, text, triggerId: slack.issueTrigger(), responseUrl }));
      return { status, responseUrl };
    },
    async click(userId, actionId, value) {
      counter += 1;
      const responseUrl = slack.responseUrl();
      const status = await send(blockActionsBody({ userId, actionId, value, triggerId: slack.issueTrigger(), responseUrl, blockId: `fault${counter}` }));
      return { status, responseUrl };
    },
    async answer(responseUrl, timeoutMs = 5_000) {
      return slack.waitForResponse((post) => post.url === responseUrl, timeoutMs).catch(() => null);
    },
    rows<T>(sql: string, ...params: unknown[]): T[] {
      return store().prepare(sql).all(...params) as T[];
    },
    grants() {
      return stack.rows<GrantRow>(`SELECT g.id, g.request_id, g.state, g.principal, g.revoked_at, r.expires_at, r.state AS request_state
        FROM grants g JOIN requests r ON r.id = g.request_id`);
    },
    async managedRoles() {
      return db.rolesStartingWith(`${db.instance}_`);
    },
    async close() {
      await stack.kill();
      reader?.close();
      await slack.close();
      await db.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** The request id an answer names (`AR-` and eight characters), if any. */
export function requestIdIn(post: ResponseUrlPost | null): string | null {
  const match = /AR-[0-9A-Z]{8}/.exec(JSON.stringify(post?.body ?? {}));
  return match ? match[0] : null;
}
