// `type: command`: a backend Latch does not know, behind an executable the organisation
// writes. For every operation Latch starts the executable (never through a shell), writes
// one JSON request to its stdin and reads one JSON answer from its stdout. Protocol and
// examples: docs/provisioners/command.md; a working example: scripts/example-provisioner.mjs.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { z } from 'zod';
import type { Integration } from '../config/schema.js';
import type {
  GrantInput,
  GrantOutput,
  HealthCheck,
  ManagedPrincipal,
  Provisioner,
  ProvisionerFactory,
  RevokeInput,
} from './provisioner.js';

export const COMMAND_PROTOCOL_VERSION = 1;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** The most a command may print on stdout; more is an error (and the command is killed). */
export const MAX_COMMAND_STDOUT_BYTES = 1024 * 1024;
/** How much of stderr a failure message quotes. */
export const STDERR_EXCERPT_CHARS = 500;
const STDERR_KEEP_BYTES = 64 * 1024;

export type CommandOperation =
  | 'grant'
  | 'revoke'
  | 'extend'
  | 'check'
  | 'list-managed'
  | 'reset-credentials'
  | 'health';

/** The grant as the command sees it. `expiresAt` is absent for revoke, check and reset-credentials. */
export interface CommandGrant {
  id: string;
  requestId: string;
  grantee: string;
  principal: string;
  resource: { name: string; labels: string[]; settings: Record<string, unknown> };
  permission: { name: string; settings: Record<string, unknown> };
  expiresAt?: string;
}

export interface CommandRequest {
  version: typeof COMMAND_PROTOCOL_VERSION;
  operation: CommandOperation;
  integration: string;
  grant?: CommandGrant;
}

/** The integration's `connection` is wrong (missing command, bad timeout, bad env list). */
export class CommandSettingsError extends Error {
  override readonly name = 'CommandSettingsError';
}

/**
 * An operation failed: the command could not start, exited non-zero, timed out, printed
 * something that is not a valid answer, or answered `ok: false`. The message names the
 * integration, the operation and the reason; it never quotes the command's stdout.
 */
export class CommandProvisionerError extends Error {
  override readonly name = 'CommandProvisionerError';
  constructor(
    readonly integration: string,
    readonly operation: CommandOperation,
    readonly reason: string,
    /** Set only when the command answered `ok: false` with `retryable`. */
    readonly retryable: boolean | null = null,
  ) {
    super(`integration "${integration}": command provisioner ${operation} failed: ${reason}`);
  }
}

export interface CommandConnection {
  /** Absolute path of the executable (a relative `connection.command` is resolved against the working directory). */
  command: string;
  timeoutMs: number;
  /** Names of the variables passed on to the command besides PATH. */
  env: string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Reads and checks `connection.command`, `connection.timeoutMs` and `connection.env`. */
export function commandConnection(integration: Integration, cwd: string = process.cwd()): CommandConnection {
  const where = `integration "${integration.name}" (type command)`;
  const { command, timeoutMs, env } = integration.connection;
  if (typeof command !== 'string' || command.trim() === '') {
    throw new CommandSettingsError(`${where}: connection.command must name the executable (an absolute path, or a path relative to the working directory)`);
  }
  let timeout = DEFAULT_COMMAND_TIMEOUT_MS;
  if (timeoutMs !== undefined) {
    const value = typeof timeoutMs === 'string' && timeoutMs.trim() !== '' ? Number(timeoutMs) : timeoutMs;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new CommandSettingsError(`${where}: connection.timeoutMs must be a positive whole number of milliseconds`);
    }
    timeout = value;
  }
  let names: string[] = [];
  if (env !== undefined) {
    if (typeof env !== 'string') throw new CommandSettingsError(`${where}: connection.env must be a comma-separated list of variable names`);
    names = env.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const bad = names.find((name) => !ENV_NAME.test(name));
    if (bad !== undefined) throw new CommandSettingsError(`${where}: connection.env lists "${bad}", which is not an environment variable name`);
  }
  return { command: path.resolve(cwd, command.trim()), timeoutMs: timeout, env: names };
}

// ---- answers -------------------------------------------------------------------------

const StringMap = z.record(z.string(), z.string());
const Isoish = z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'must be an ISO 8601 date-time');

const Failure = z.object({
  ok: z.literal(false),
  error: z.string().min(1),
  retryable: z.boolean().optional(),
});
const Done = z.object({ ok: z.literal(true) });
const Granted = z.object({
  ok: z.literal(true),
  principal: z.string().min(1),
  secrets: StringMap.optional(),
  details: StringMap.optional(),
});
const Checked = z.object({ ok: z.literal(true), present: z.boolean() });
const Listed = z.object({
  ok: z.literal(true),
  principals: z.array(z.object({
    principal: z.string().min(1),
    reference: z.string().nullable().optional(),
    expiresAt: Isoish.nullable().optional(),
  })),
});
const Health = z.object({
  ok: z.literal(true),
  checks: z.array(z.object({ name: z.string().min(1), ok: z.boolean(), detail: z.string().optional() })),
});

const ANSWERS = {
  grant: Granted,
  'reset-credentials': Granted,
  revoke: Done,
  extend: Done,
  check: Checked,
  'list-managed': Listed,
  health: Health,
} as const satisfies Record<CommandOperation, z.ZodType>;

type Answer<Op extends CommandOperation> = z.output<(typeof ANSWERS)[Op]>;

/** Describes what is wrong with an answer by path and rule only: values (maybe secrets) never appear. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(answer)'}: ${issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.code}`)
    .join('; ');
}

// ---- running the command -------------------------------------------------------------

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  overflow: boolean;
}

function excerpt(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  return trimmed.length > STDERR_EXCERPT_CHARS ? `${trimmed.slice(0, STDERR_EXCERPT_CHARS)}…` : trimmed;
}

export class CommandProvisioner implements Provisioner {
  readonly type = 'command';
  readonly connection: CommandConnection;
  private readonly childEnv: NodeJS.ProcessEnv;

  constructor(private readonly integration: Integration, env: NodeJS.ProcessEnv = process.env) {
    this.connection = commandConnection(integration);
    // The command gets PATH and the variables the config names, nothing else: Latch's own
    // environment holds its chat tokens and database passwords, which a backend script has
    // no business seeing (or printing into a log by accident).
    const childEnv: NodeJS.ProcessEnv = {};
    if (env.PATH !== undefined) childEnv.PATH = env.PATH;
    for (const name of this.connection.env) {
      const value = env[name];
      if (value !== undefined) childEnv[name] = value;
    }
    this.childEnv = childEnv;
  }

  async grant(input: GrantInput): Promise<GrantOutput> {
    const answer = await this.call('grant', this.describeGrant(input, input.expiresAt));
    return grantOutput(answer);
  }

  async revoke(input: RevokeInput): Promise<void> {
    await this.call('revoke', this.describeGrant(input, null));
  }

  async extend(input: GrantInput): Promise<void> {
    await this.call('extend', this.describeGrant(input, input.expiresAt));
  }

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    const answer = await this.call('check', this.describeGrant(input, null));
    return answer.present ? 'present' : 'absent';
  }

  /** Issues new secrets for a principal that holds the grant (not part of the Provisioner contract). */
  async resetCredentials(input: RevokeInput): Promise<GrantOutput> {
    const answer = await this.call('reset-credentials', this.describeGrant(input, null));
    return grantOutput(answer);
  }

  async listManaged(integration: Integration = this.integration): Promise<ManagedPrincipal[]> {
    if (integration.name !== this.integration.name) {
      throw new Error(`the command provisioner for "${this.integration.name}" was asked to list "${integration.name}"`);
    }
    const answer = await this.call('list-managed', undefined);
    return answer.principals.map((entry) => ({
      principal: entry.principal,
      reference: entry.reference ?? null,
      expiresAt: entry.expiresAt == null ? null : Date.parse(entry.expiresAt),
    }));
  }

  /** Never throws: a command that cannot answer is an unhealthy integration, reported as a failed check. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    try {
      const answer = await this.call('health', undefined);
      const checks: HealthCheck[] = answer.checks.map((check) => (
        check.detail === undefined ? { name: check.name, ok: check.ok } : { name: check.name, ok: check.ok, detail: check.detail }
      ));
      return { ok: checks.every((check) => check.ok), checks };
    } catch (error) {
      return { ok: false, checks: [{ name: 'command', ok: false, detail: error instanceof Error ? error.message : String(error) }] };
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between operations: every operation is its own process.
  }

  private describeGrant(input: RevokeInput, expiresAt: number | null): CommandGrant {
    const grant: CommandGrant = {
      id: input.grantId,
      requestId: input.requestId,
      grantee: input.grantee,
      principal: input.principal,
      resource: { name: input.resource.name, labels: input.resource.labels, settings: input.resource.settings },
      permission: { name: input.permission, settings: input.permissionSettings },
    };
    if (expiresAt !== null) grant.expiresAt = new Date(expiresAt).toISOString();
    return grant;
  }

  private async call<Op extends CommandOperation>(operation: Op, grant: CommandGrant | undefined): Promise<Answer<Op>> {
    const request: CommandRequest = { version: COMMAND_PROTOCOL_VERSION, operation, integration: this.integration.name };
    if (grant) request.grant = grant;
    const fail = (reason: string, retryable: boolean | null = null) => new CommandProvisionerError(this.integration.name, operation, reason, retryable);

    let result: RunResult;
    try {
      result = await this.run(JSON.stringify(request));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw fail(`cannot run ${this.connection.command}${code ? ` (${code})` : ''}`);
    }
    const stderr = excerpt(result.stderr);
    const withStderr = (reason: string) => (stderr === '' ? reason : `${reason}; stderr: ${stderr}`);
    if (result.timedOut) throw fail(withStderr(`no answer within ${this.connection.timeoutMs} ms; the command was killed`));
    if (result.overflow) throw fail(withStderr(`the command printed more than ${MAX_COMMAND_STDOUT_BYTES} bytes on stdout; it was killed`));
    if (result.code !== 0) {
      const how = result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.code}`;
      throw fail(withStderr(`the command ${how}`));
    }

    const text = result.stdout.toString('utf8').trim();
    if (text === '') throw fail(withStderr('the command printed no answer on stdout'));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The output is not quoted: it may hold a secret.
      throw fail('the command printed something on stdout that is not a JSON document');
    }
    const failure = Failure.safeParse(parsed);
    if (failure.success) throw fail(`the command answered: ${excerpt(failure.data.error)}`, failure.data.retryable ?? null);
    const schema: z.ZodType = ANSWERS[operation];
    const answer = schema.safeParse(parsed);
    if (!answer.success) throw fail(`the command's answer does not fit the protocol (${describeIssues(answer.error)})`);
    // ANSWERS[operation] is the schema of Answer<Op>; TypeScript cannot follow the indexed generic.
    return answer.data as Answer<Op>;
  }

  private run(input: string): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      const child = spawn(this.connection.command, [], {
        shell: false,
        env: this.childEnv,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
        // Its own process group, so a kill also reaches whatever the command started.
        detached: process.platform !== 'win32',
      });
      const kill = () => {
        try {
          if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          else child.kill('SIGKILL');
        } catch {
          child.kill('SIGKILL'); // the group is gone already
        }
      };
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = '';
      let timedOut = false;
      let overflow = false;
      let settled = false;

      const timer = setTimeout(() => {
        timedOut = true;
        kill();
        // Something the command started may still hold its stdout open; stop waiting for it.
        child.stdout.destroy();
        child.stderr.destroy();
      }, this.connection.timeoutMs);

      child.stdout.on('data', (chunk: Buffer) => {
        if (overflow) return;
        stdoutBytes += chunk.length;
        if (stdoutBytes > MAX_COMMAND_STDOUT_BYTES) {
          overflow = true;
          stdout.length = 0;
          kill();
          child.stdout.destroy();
          child.stderr.destroy();
          return;
        }
        stdout.push(chunk);
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        if (stderr.length < STDERR_KEEP_BYTES) stderr += chunk.slice(0, STDERR_KEEP_BYTES - stderr.length);
      });
      // A command that exits without reading its request makes the write fail with EPIPE;
      // its exit code tells what happened, so the write error itself is not the story.
      child.stdin.on('error', () => undefined);

      child.on('error', (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ code, signal, stdout: Buffer.concat(stdout), stderr, timedOut, overflow });
      });

      child.stdin.end(`${input}\n`);
    });
  }
}

function grantOutput(answer: z.output<typeof Granted>): GrantOutput {
  const output: GrantOutput = { principal: answer.principal };
  if (answer.secrets) output.secrets = answer.secrets;
  if (answer.details) output.details = answer.details;
  return output;
}

export const createCommandProvisioner: ProvisionerFactory = (integration, env) => new CommandProvisioner(integration, env);
