// `type: http`: a backend Latch does not know, behind an HTTPS endpoint the organisation
// runs. For every operation Latch POSTs one JSON request (the same document `type: command`
// writes to stdin, external-protocol.ts) and reads one JSON answer from the response body.
// The body is signed so the endpoint can refuse forgeries and replays. Protocol, signature
// and a receiver example: docs/provisioners/http.md.
import { createHmac, randomUUID } from 'node:crypto';
import type { Integration } from '../config/schema.js';
import { isLoopbackHost } from '../core/loopback.js';
import {
  excerpt,
  Failure,
  grantOutput,
  healthReport,
  managedPrincipals,
  resourceOffers,
  protocolGrant,
  protocolRequest,
  readAnswer,
  timeoutSetting,
  type Answer,
  type ProtocolGrant,
  type ProtocolOperation,
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

/** The most an answer body may hold; more is an error (and the response is dropped unread). */
export const MAX_HTTP_ANSWER_BYTES = 1024 * 1024;
/** How much of a non-2xx body a failure message quotes. */
export const BODY_EXCERPT_CHARS = 300;
/** An HMAC key shorter than this is guessable; `openssl rand -hex 32` makes a good one. */
export const MIN_SIGNING_SECRET_CHARS = 32;

export const TIMESTAMP_HEADER = 'X-Latch-Timestamp';
export const SIGNATURE_HEADER = 'X-Latch-Signature';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** The integration's `connection` or `credentials` are wrong (bad URL, plain HTTP, no secret). */
export class HttpSettingsError extends Error {
  override readonly name = 'HttpSettingsError';
}

/**
 * An operation failed: the endpoint could not be reached, did not answer in time, answered
 * a non-2xx status, or answered something that is not a valid answer, or `ok: false`. The
 * message names the integration, the operation and the reason; it quotes a 2xx body never
 * (it may hold a secret) and a non-2xx body only briefly, with the signing secret redacted.
 */
export class HttpProvisionerError extends Error {
  override readonly name = 'HttpProvisionerError';
  constructor(
    readonly integration: string,
    readonly operation: ProtocolOperation,
    readonly reason: string,
    /** Set only when the endpoint answered `ok: false` with `retryable`. */
    readonly retryable: boolean | null = null,
    /** The HTTP status, when there was a response. */
    readonly status: number | null = null,
    /** The endpoint answered `ok: false`: it understood the request and refused it. */
    readonly refused = false,
  ) {
    super(`integration "${integration}": http provisioner ${operation} failed: ${reason}`);
  }
}

export interface HttpConnection {
  url: URL;
  timeoutMs: number;
  /** The variable holding the signing secret (`credentials.env`). */
  secretEnv: string;
}

export { isLoopbackHost };

/** Reads and checks `connection.url`, `connection.timeoutMs` and `credentials`. */
export function httpConnection(integration: Integration): HttpConnection {
  const where = `integration "${integration.name}" (type http)`;
  const { url: text, timeoutMs } = integration.connection;
  if (typeof text !== 'string' || text.trim() === '') {
    throw new HttpSettingsError(`${where}: connection.url must be the endpoint's https:// URL`);
  }
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new HttpSettingsError(`${where}: connection.url "${text}" is not a URL; write it like https://provisioner.example.com/latch`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new HttpSettingsError(`${where}: connection.url must be an https:// URL, not ${url.protocol}`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    // Grants go out and passwords come back over this connection.
    throw new HttpSettingsError(`${where}: connection.url is plain http:// to ${url.hostname}; use https:// (plain http:// is allowed only to a loopback address: 127.0.0.0/8, ::1 or localhost)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new HttpSettingsError(`${where}: connection.url must not hold a user name or password; requests are authenticated by their signature (credentials: { env: VARIABLE })`);
  }
  const timeout = timeoutSetting(timeoutMs);
  if (timeout === null) throw new HttpSettingsError(`${where}: connection.timeoutMs must be a positive whole number of milliseconds`);
  const { credentials } = integration;
  if (!('env' in credentials)) {
    throw new HttpSettingsError(`${where}: credentials must be { env: VARIABLE }, the environment variable holding the signing secret`);
  }
  return { url, timeoutMs: timeout, secretEnv: credentials.env };
}

/** `v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>`: what a receiver recomputes and compares. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

type Exchange =
  | { kind: 'answer'; status: number; body: string }
  | { kind: 'too-large'; status: number }
  | { kind: 'timeout' }
  | { kind: 'unreachable'; reason: string };

export class HttpProvisioner implements Provisioner {
  readonly type = 'http';
  readonly connection: HttpConnection;
  /** The origin and path, for error messages: a query string may hold an API key. */
  private readonly endpoint: string;
  // A closure rather than a field: the secret then never shows when the provisioner is
  // logged or inspected.
  private readonly sign: (timestamp: string, body: string) => string;
  private readonly redact: (text: string) => string;

  constructor(private readonly integration: Integration, env: NodeJS.ProcessEnv = process.env) {
    this.connection = httpConnection(integration);
    this.endpoint = `${this.connection.url.origin}${this.connection.url.pathname}`;
    const name = this.connection.secretEnv;
    const secret = env[name];
    if (secret === undefined || secret === '') {
      throw new HttpSettingsError(`integration "${integration.name}" (type http): environment variable ${name} (credentials.env) is not set; it holds the secret requests are signed with`);
    }
    if (secret.length < MIN_SIGNING_SECRET_CHARS) {
      throw new HttpSettingsError(`integration "${integration.name}" (type http): environment variable ${name} (credentials.env) holds a secret of ${secret.length} characters; a signing secret needs at least ${MIN_SIGNING_SECRET_CHARS} (openssl rand -hex 32)`);
    }
    this.sign = (timestamp, body) => signature(secret, timestamp, body);
    this.redact = (text) => text.split(secret).join('[redacted]');
  }

  // Idempotency keys: the same key means the same logical operation, so the endpoint can
  // recognise Latch's retries. Grant and revoke happen once per grant id; an extension
  // is a new operation per new expiry; reads and credential resets are new every time.

  async grant(input: GrantInput): Promise<GrantOutput> {
    return grantOutput(await this.call('grant', protocolGrant(input, input.expiresAt), `${input.grantId}:grant`));
  }

  async revoke(input: RevokeInput): Promise<void> {
    await this.call('revoke', protocolGrant(input, null), `${input.grantId}:revoke`);
  }

  async extend(input: GrantInput): Promise<void> {
    const grant = protocolGrant(input, input.expiresAt);
    await this.call('extend', grant, `${input.grantId}:extend:${grant.expiresAt ?? ''}`);
  }

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    const answer = await this.call('check', protocolGrant(input, null), `${input.grantId}:check:${randomUUID()}`);
    return answer.present ? 'present' : 'absent';
  }

  /**
   * Issues new secrets for a principal that holds the grant. Also the way to a first secret
   * when the grant answer carried none: the protocol has no separate create-credentials.
   */
  async resetCredentials(input: RevokeInput): Promise<GrantOutput> {
    return grantOutput(await this.call('reset-credentials', protocolGrant(input, null), `${input.grantId}:reset-credentials:${randomUUID()}`));
  }

  async listResources(): Promise<ResourceOffer[]> {
    return resourceOffers(await this.call('list-resources', undefined, `list-resources:${randomUUID()}`));
  }

  async listManaged(integration: Integration = this.integration): Promise<ManagedPrincipal[]> {
    if (integration.name !== this.integration.name) {
      throw new Error(`the http provisioner for "${this.integration.name}" was asked to list "${integration.name}"`);
    }
    return managedPrincipals(await this.call('list-managed', undefined, `list-managed:${randomUUID()}`));
  }

  /** Never throws: an endpoint that cannot answer is an unhealthy integration, reported as a failed check. */
  async checkHealth(): Promise<{ ok: boolean; checks: HealthCheck[] }> {
    let report: { ok: boolean; checks: HealthCheck[] };
    try {
      report = healthReport(await this.call('health', undefined, `health:${randomUUID()}`));
    } catch (error) {
      return { ok: false, checks: [{ name: 'http', ok: false, detail: error instanceof Error ? error.message : String(error) }] };
    }
    const resources = await resourcesCheck(this.integration, () => this.listResources(), (error) => error instanceof HttpProvisionerError && error.refused);
    return { ok: report.ok && resources.ok, checks: [...report.checks, resources] };
  }

  async close(): Promise<void> {
    // Nothing is held open: fetch's connection pool is the process's.
  }

  private async call<Op extends ProtocolOperation>(operation: Op, grant: ProtocolGrant | undefined, idempotencyKey: string): Promise<Answer<Op>> {
    const fail = (reason: string, retryable: boolean | null = null, status: number | null = null, refused = false) =>
      new HttpProvisionerError(this.integration.name, operation, reason, retryable, status, refused);
    if (this.connection.url.protocol === 'https:' && process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
      // Node reads this variable on every TLS connection; with it, anyone on the path could
      // pose as the endpoint and collect the passwords it hands out.
      throw fail('NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate verification in this process; Latch does not send requests without it');
    }
    const body = JSON.stringify(protocolRequest(operation, this.integration.name, grant));
    const result = await this.exchange(body, idempotencyKey);

    if (result.kind === 'timeout') throw fail(`no answer within ${this.connection.timeoutMs} ms; the request was aborted`);
    if (result.kind === 'unreachable') throw fail(`cannot reach ${this.endpoint}: ${result.reason}`);
    if (result.kind === 'too-large') throw fail(`the endpoint answered HTTP ${result.status} with more than ${MAX_HTTP_ANSWER_BYTES} bytes; the answer was dropped`, null, result.status);
    const { status, body: text } = result;

    if (status < 200 || status > 299) {
      const refusal = parseJson(text);
      const failure = refusal.ok ? Failure.safeParse(refusal.value) : null;
      if (failure?.success) throw fail(`the endpoint answered HTTP ${status}: ${this.quote(failure.data.error)}`, failure.data.retryable ?? null, status, true);
      if (status >= 300 && status < 400) throw fail(`the endpoint answered HTTP ${status}, a redirect, which Latch does not follow; put the final URL in connection.url`, null, status);
      const quoted = this.quote(text);
      throw fail(`the endpoint answered HTTP ${status}${quoted === '' ? ' with an empty body' : `: ${quoted}`}`, null, status);
    }

    // From here on the body is never quoted: a 2xx answer may hold a password.
    if (text.trim() === '') throw fail(`the endpoint answered HTTP ${status} with an empty body`, null, status);
    const parsed = parseJson(text);
    if (!parsed.ok) throw fail(`the endpoint answered HTTP ${status} with a body that is not a JSON document`, null, status);
    const read = readAnswer(operation, parsed.value);
    if (read.ok) return read.answer;
    if (read.problem === 'refused') throw fail(`the endpoint answered: ${this.quote(read.error)}`, read.retryable, status, true);
    throw fail(`the endpoint's answer does not fit the protocol (${read.issues})`, null, status);
  }

  /** One POST, with the whole exchange (connect, headers, body) under one deadline. */
  private async exchange(body: string, idempotencyKey: string): Promise<Exchange> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.connection.timeoutMs);
    try {
      const response = await fetch(this.connection.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': 'latch-http-provisioner',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: this.sign(timestamp, body),
          [IDEMPOTENCY_HEADER]: idempotencyKey,
        },
        body,
        // A redirect would carry the signed request (and bring back the answer) from
        // somewhere the config does not name, perhaps over plain HTTP.
        redirect: 'manual',
        signal: controller.signal,
      });
      const text = await readLimited(response, MAX_HTTP_ANSWER_BYTES);
      if (text === null) return { kind: 'too-large', status: response.status };
      return { kind: 'answer', status: response.status, body: text };
    } catch (error) {
      if (controller.signal.aborted) return { kind: 'timeout' };
      return { kind: 'unreachable', reason: describeFetchError(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** A short, one-line, secret-free excerpt of what the endpoint said. */
  private quote(text: string): string {
    return excerpt(this.redact(text).replace(/[\u0000-\u001f\u007f\s]+/g, ' '), BODY_EXCERPT_CHARS);
  }
}

/** The body as text, or null when it is larger than `limit` bytes (then it is not read further). */
export async function readLimited(response: Response, limit: number): Promise<string | null> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** fetch says only "fetch failed"; the reason (refused, DNS, a bad certificate) is in its cause. */
export function describeFetchError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as NodeJS.ErrnoException).code;
  const message = cause.message.trim();
  if (message === '') return code ?? cause.name;
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

export const createHttpProvisioner: ProvisionerFactory = (integration, env) => new HttpProvisioner(integration, env);
