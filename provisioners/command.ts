// `type: command`: a backend Latch does not know, behind an executable the organisation
// writes. For every operation Latch starts the executable (never through a shell), writes
// one JSON request to its stdin and reads one JSON answer from its stdout. Protocol and
// examples: docs/provisioners/command.md; a working example: scripts/example-provisioner.mjs.
// The request and answer documents are external-protocol.ts, shared with `type: http`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Integration } from '../config/schema.js';
import {
  DEFAULT_TIMEOUT_MS,
  excerpt,
  grantOutput,
  healthReport,
  managedPrincipals,
  resourceOffers,
  PROTOCOL_VERSION,
  protocolGrant,
  protocolRequest,
  readAnswer,
  timeoutSetting,
  type Answer,
  type ProtocolGrant,
  type ProtocolOperation,
  type ProtocolRequest,
} from './external-protocol.js';
import type {
  GrantInput,
  GrantOutput,
  HealthCheck,
  ManagedPrincipal,
  Provisioner,
  ProvisionerFactory,
  ResourceOffer,
  RevokeInput,
} from './provisioner.js';
import { resourcesCheck } from './resource-offers.js';

// The protocol lives in external-protocol.ts (the http transport speaks it too); these
// names stay for the code and tests that know it as the command protocol.
export const COMMAND_PROTOCOL_VERSION = PROTOCOL_VERSION;
export type CommandOperation = ProtocolOperation;
export type CommandGrant = ProtocolGrant;
export type CommandRequest = ProtocolRequest;

export const DEFAULT_COMMAND_TIMEOUT_MS = DEFAULT_TIMEOUT_MS;
/** The most a command may print on stdout; more is an error (and the command is killed). */
export const MAX_COMMAND_STDOUT_BYTES = 1024 * 1024;
/** How much of stderr a failure message quotes. */
export const STDERR_EXCERPT_CHARS = 500;
const STDERR_KEEP_BYTES = 64 * 1024;

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
    /** The command answered `ok: false`: it understood the request and refused it. */
    readonly refused = false,
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
  const timeout = timeoutSetting(timeoutMs);
  if (timeout === null) throw new CommandSettingsError(`${where}: connection.timeoutMs must be a positive whole number of milliseconds`);
  let names: string[] = [];
  if (env !== undefined) {
    if (typeof env !== 'string') throw new CommandSettingsError(`${where}: connection.env must be a comma-separated list of variable names`);
    names = env.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const bad = names.find((name) => !ENV_NAME.test(name));
    if (bad !== undefined) throw new CommandSettingsError(`${where}: connection.env lists "${bad}", which is not an environment variable name`);
  }
  return { command: path.resolve(cwd, command.trim()), timeoutMs: timeout, env: names };
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
    const answer = await this.call('grant', protocolGrant(input, input.expiresAt));
    return grantOutput(answer);
  }

  async revoke(input: RevokeInput): Promise<void> {
    await this.call('revoke', protocolGrant(input, null));
  }

  async extend(input: GrantInput): Promise<void> {
    await this.call('extend', protocolGrant(input, input.expiresAt));
  }

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    const answer = await this.call('check', protocolGrant(input, null));
    return answer.present ? 'present' : 'absent';
  }

  /**
   * Issues new secrets for a principal that holds the grant. Also the way to a first secret
   * when the grant answer carried none: the protocol has no separate create-credentials.
   */
  async resetCredentials(input: RevokeInput): Promise<GrantOutput> {
    const answer = await this.call('reset-credentials', protocolGrant(input, null));
    return grantOutput(answer);
  }

  async listResources(): Promise<ResourceOffer[]> {
    return resourceOffers(await this.call('list-resources', undefined));
  }

  async listManaged(integration: Integration = this.integration): Promise<ManagedPrincipal[]> {
    if (integration.name !== this.integration.name) {
      throw new Error(`the command provisioner for "${this.integration.name}" was asked to list "${integration.name}"`);
    }
    return managedPrincipals(await this.call('list-managed', undefined));
  }

  /** Never throws: a command that cannot answer is an unhealthy integration, reported as a failed check. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    let report: { ok: boolean; checks: HealthCheck[] };
    try {
      report = healthReport(await this.call('health', undefined));
    } catch (error) {
      return { ok: false, checks: [{ name: 'command', ok: false, detail: error instanceof Error ? error.message : String(error) }] };
    }
    const resources = await resourcesCheck(this.integration, () => this.listResources(), (error) => error instanceof CommandProvisionerError && error.refused);
    return { ok: report.ok && resources.ok, checks: [...report.checks, resources] };
  }

  async close(): Promise<void> {
    // Nothing is held open between operations: every operation is its own process.
  }

  private async call<Op extends CommandOperation>(operation: Op, grant: CommandGrant | undefined): Promise<Answer<Op>> {
    const request = protocolRequest(operation, this.integration.name, grant);
    const fail = (reason: string, retryable: boolean | null = null) => new CommandProvisionerError(this.integration.name, operation, reason, retryable);

    let result: RunResult;
    try {
      result = await this.run(JSON.stringify(request));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw fail(`cannot run ${this.connection.command}${code ? ` (${code})` : ''}`);
    }
    const stderr = excerpt(result.stderr, STDERR_EXCERPT_CHARS);
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
    const read = readAnswer(operation, parsed);
    if (read.ok) return read.answer;
    if (read.problem === 'refused') throw new CommandProvisionerError(this.integration.name, operation, `the command answered: ${excerpt(read.error, STDERR_EXCERPT_CHARS)}`, read.retryable, true);
    throw fail(`the command's answer does not fit the protocol (${read.issues})`);
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

export const createCommandProvisioner: ProvisionerFactory = (integration, env) => new CommandProvisioner(integration, env);
