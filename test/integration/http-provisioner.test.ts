import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultProvisioners, startLatch, type RunningLatch } from '../../bot/latch.js';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import { decide } from '../../handlers/decide.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import {
  createHttpProvisioner,
  HttpProvisioner,
  HttpProvisionerError,
  HttpSettingsError,
} from '../../provisioners/http.js';
import type { GrantInput, RevokeInput } from '../../provisioners/provisioner.js';
import { eventually } from '../support/harness.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

const HOUR = 3_600_000;
const SECRET = randomBytes(32).toString('hex');
const SECRET_ENV = 'WIKI_SIGNING_SECRET';

// ---- the receiver: what an organisation's endpoint does, per docs/provisioners/http.md ----

/** The check the doc tells receivers to make, written the way the doc writes it. */
function verifyLatchSignature(secret: string, headers: IncomingHttpHeaders, rawBody: Buffer): boolean {
  const timestamp = headers['x-latch-timestamp'];
  const signature = headers['x-latch-signature'];
  if (typeof timestamp !== 'string' || !/^\d+$/.test(timestamp) || typeof signature !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false; // too old: a replay
  const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
  const given = Buffer.from(signature);
  return given.length === Buffer.byteLength(expected) && timingSafeEqual(given, Buffer.from(expected));
}

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  /** The parsed body; `null` when it was not JSON. */
  document: any;
  signatureValid: boolean;
}

interface Reply {
  status?: number;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

interface Receiver {
  url(path?: string): string;
  requests: Received[];
  /** How the receiver answers a request with a valid signature. */
  answer: (request: Received) => Reply;
  stop(): Promise<void>;
}

async function startReceiver(secret: string): Promise<Receiver> {
  const receiver = {
    requests: [] as Received[],
    answer: (_request: Received): Reply => ({ status: 404, body: { ok: false, error: 'no answer set for this test' } }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let document: any = null;
      try { document = JSON.parse(raw.toString('utf8')); } catch { /* recorded as null */ }
      const request: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, document, signatureValid: verifyLatchSignature(secret, req.headers, raw) };
      receiver.requests.push(request);
      const reply = request.signatureValid ? receiver.answer(request) : { status: 401, body: { ok: false, error: 'bad signature' } };
      const send = () => {
        if (res.destroyed) return;
        const text = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        res.end(text);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: (path = '/latch') => `http://127.0.0.1:${port}${path}`,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  });
}

// A self-signed certificate for 127.0.0.1 (a throwaway key made for this test only): Latch
// must refuse it, since nothing turns certificate verification off.
const SELF_SIGNED = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpGzZKHaRhLNdk+Vz
vMNXVw0vpIaEaovwEnIo7IlCrOihRANCAASaQZvyxRak6kTbA3TMkWqeDJJCc37C
RRV34GhbIqwZuN4KRJ8CZdYbUvfB9DDfbn6HSHYofCZxSJ5cmLTM2Zj+
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUYWdirv/ZxRMZiZ9GtsB4wSFfxCEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTIwMTIxMTkzMFoYDzIxMjYxMTA3
MjExOTMwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASaQZvyxRak6kTbA3TMkWqeDJJCc37CRRV34GhbIqwZuN4KRJ8CZdYb
UvfB9DDfbn6HSHYofCZxSJ5cmLTM2Zj+o2QwYjAdBgNVHQ4EFgQUeX66KfRMkJR1
X7MKSNVelog6sGcwHwYDVR0jBBgwFoAUeX66KfRMkJR1X7MKSNVelog6sGcwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IBKXnHTFXg6pfc53vrr4am8irztj8Fr4nCInB26uSrbWAiEA/svSNInklYf3HBka
BIKkbXUDU3KNm3xkDbY/6cR7taU=
-----END CERTIFICATE-----
`,
};

// ---- Latch's side ---------------------------------------------------------------------

let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver(SECRET);
});

afterAll(async () => {
  await receiver?.stop();
});

beforeEach(() => {
  receiver.requests.length = 0;
});

function integration(connection: Record<string, string | number | boolean>, credentials: unknown = { env: SECRET_ENV }): Integration {
  return IntegrationSchema.parse({
    name: 'wiki',
    type: 'http',
    owner: 'group:leads',
    connection,
    credentials,
    resources: [{
      name: 'docs',
      labels: ['prod'],
      settings: { space: 'ENG' },
      permissions: { read: { group: 'readers' }, write: { group: 'writers' } },
    }],
  });
}

function open(connection: Record<string, string | number | boolean> = {}, env: NodeJS.ProcessEnv = { [SECRET_ENV]: SECRET }): HttpProvisioner {
  return new HttpProvisioner(integration({ url: receiver.url(), timeoutMs: 5_000, ...connection }), env);
}

function grantFor(target: Integration, options: { permission?: string; expiresAt?: number } = {}): GrantInput {
  const resource = target.resources[0];
  if (!resource) throw new Error('the test integration has no resource');
  const permission = options.permission ?? 'read';
  return {
    grantId: newId('gr'),
    requestId: newRequestId(),
    grantee: 'alice@example.com',
    integration: target,
    resource,
    permission,
    permissionSettings: resource.permissions[permission] ?? {},
    principal: `latch_alice_${Math.random().toString(36).slice(2, 8)}`,
    expiresAt: options.expiresAt ?? Date.now() + HOUR,
  };
}

function revokeInput(input: GrantInput): RevokeInput {
  const { expiresAt: _expiresAt, ...rest } = input;
  return rest;
}

async function failure(promise: Promise<unknown>): Promise<HttpProvisionerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HttpProvisionerError);
    return error as HttpProvisionerError;
  }
  throw new Error('expected the operation to fail');
}

function only(): Received {
  expect(receiver.requests).toHaveLength(1);
  const [request] = receiver.requests;
  if (!request) throw new Error('no request arrived');
  return request;
}

describe('http provisioner: what Latch sends', () => {
  it('POSTs the protocol document, signed over the timestamp and the exact body, with an idempotency key', async () => {
    receiver.answer = () => ({ body: { ok: true } });
    const target = integration({ url: receiver.url() });
    const input = grantFor(target, { permission: 'write', expiresAt: Date.parse('2030-05-06T07:08:09.000Z') });
    const before = Math.floor(Date.now() / 1000);
    await open().extend(input);

    const request = only();
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/latch');
    expect(request.signatureValid).toBe(true);
    expect(request.headers['content-type']).toBe('application/json');
    expect(Number(request.headers['x-latch-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(Number(request.headers['x-latch-timestamp'])).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(request.headers['x-latch-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(request.headers['idempotency-key']).toBe(`${input.grantId}:extend:2030-05-06T07:08:09.000Z`);
    expect(request.document).toEqual({
      version: 1,
      operation: 'extend',
      integration: 'wiki',
      grant: {
        id: input.grantId,
        requestId: input.requestId,
        grantee: 'alice@example.com',
        principal: input.principal,
        resource: { name: 'docs', labels: ['prod'], settings: { space: 'ENG' } },
        permission: { name: 'write', settings: { group: 'writers' } },
        expiresAt: '2030-05-06T07:08:09.000Z',
      },
    });
    // The secret only keys the HMAC; it never travels.
    expect(JSON.stringify(request.headers) + request.raw.toString('utf8')).not.toContain(SECRET);
  });

  it('sends a signature a receiver can tell from a forgery or a replay', async () => {
    receiver.answer = () => ({ body: { ok: true } });
    await open().revoke(revokeInput(grantFor(integration({ url: receiver.url() }))));
    const { headers, raw } = only();
    expect(verifyLatchSignature(SECRET, headers, raw)).toBe(true);

    const tampered = Buffer.from(raw.toString('utf8').replace('"revoke"', '"grant"'));
    expect(verifyLatchSignature(SECRET, headers, tampered)).toBe(false);
    expect(verifyLatchSignature('another-secret-of-the-same-length-or-not', headers, raw)).toBe(false);
    const stale = { ...headers, 'x-latch-timestamp': String(Number(headers['x-latch-timestamp']) - 600) };
    expect(verifyLatchSignature(SECRET, stale, raw)).toBe(false);
  });

  it('fails when the receiver refuses the signature (a provisioner with the wrong secret)', async () => {
    receiver.answer = () => ({ body: { ok: true } });
    const wrong = open({}, { [SECRET_ENV]: randomBytes(32).toString('hex') });
    const error = await failure(wrong.revoke(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(only().signatureValid).toBe(false);
    expect(error.status).toBe(401);
    expect(error.message).toBe('integration "wiki": http provisioner revoke failed: the endpoint answered HTTP 401: bad signature');
  });

  it('gives a retried grant and revoke the same idempotency key, and reads a fresh one each time', async () => {
    receiver.answer = ({ document }) => {
      if (document.operation === 'grant') return { body: { ok: true, principal: document.grant.principal } };
      if (document.operation === 'check') return { body: { ok: true, present: true } };
      return { body: { ok: true } };
    };
    const provisioner = open();
    const input = grantFor(integration({ url: receiver.url() }));
    await provisioner.grant(input);
    await provisioner.grant(input);
    await provisioner.revoke(revokeInput(input));
    await provisioner.revoke(revokeInput(input));
    await provisioner.check(revokeInput(input));
    await provisioner.check(revokeInput(input));
    const keys = receiver.requests.map((request) => request.headers['idempotency-key']);
    expect(keys.slice(0, 4)).toEqual([`${input.grantId}:grant`, `${input.grantId}:grant`, `${input.grantId}:revoke`, `${input.grantId}:revoke`]);
    expect(keys[4]).toMatch(new RegExp(`^${input.grantId}:check:`));
    expect(keys[5]).not.toBe(keys[4]);
  });
});

describe('http provisioner: answers', () => {
  it('grants and hands the secrets and details back for the grantee', async () => {
    receiver.answer = ({ document }) => ({
      body: { ok: true, principal: document.grant.principal, secrets: { password: 'pw-from-the-endpoint' }, details: { username: document.grant.principal }, extra: 'ignored' },
    });
    const input = grantFor(integration({ url: receiver.url() }));
    const output = await createHttpProvisioner(integration({ url: receiver.url() }), { [SECRET_ENV]: SECRET }).grant(input);
    expect(output).toEqual({ principal: input.principal, secrets: { password: 'pw-from-the-endpoint' }, details: { username: input.principal } });
    const request = only();
    expect(request.document.operation).toBe('grant');
    expect(request.document.grant.expiresAt).toBe(new Date(input.expiresAt).toISOString());
  });

  it('revokes, checks and lists', async () => {
    const input = grantFor(integration({ url: receiver.url() }));
    receiver.answer = ({ document }) => {
      switch (document.operation) {
        case 'revoke': return { body: { ok: true } };
        case 'check': return { body: { ok: true, present: false } };
        case 'list-managed': return { body: { ok: true, principals: [{ principal: input.principal, reference: input.grantId, expiresAt: '2031-01-02T03:04:05.000Z' }, { principal: 'latch_other' }] } };
        default: return { status: 400, body: { ok: false, error: `unexpected ${document.operation}` } };
      }
    };
    const provisioner = open();
    await provisioner.revoke(revokeInput(input));
    expect(await provisioner.check(revokeInput(input))).toBe('absent');
    expect(await provisioner.listManaged()).toEqual([
      { principal: input.principal, reference: input.grantId, expiresAt: Date.parse('2031-01-02T03:04:05.000Z') },
      { principal: 'latch_other', reference: null, expiresAt: null },
    ]);
    const [revoke, , list] = receiver.requests;
    expect(revoke?.document.grant).not.toHaveProperty('expiresAt');
    expect(list?.document).toEqual({ version: 1, operation: 'list-managed', integration: 'wiki' });
  });

  it('reports health, and an endpoint that cannot answer as unhealthy instead of throwing', async () => {
    receiver.answer = (request) => (request.document.operation === 'health'
      ? { body: { ok: true, checks: [{ name: 'api', ok: true, detail: 'reachable' }] } }
      : { status: 400, body: { ok: false, error: 'unknown operation list-resources' } });
    const report = await open().checkHealth();
    expect(report.ok).toBe(true);
    expect(report.checks[0]).toEqual({ name: 'api', ok: true, detail: 'reachable' });
    // list-resources is optional: an endpoint that refuses it is not checked, and not unhealthy.
    expect(report.checks[1]).toMatchObject({ name: 'resources', ok: true, detail: expect.stringContaining('not checked') });
    expect(receiver.requests.map((request) => request.document)).toEqual([
      { version: 1, operation: 'health', integration: 'wiki' },
      { version: 1, operation: 'list-resources', integration: 'wiki' },
    ]);

    receiver.answer = () => ({ status: 503, body: 'maintenance' });
    const health = await open().checkHealth();
    expect(health.ok).toBe(false);
    expect(health.checks).toEqual([{ name: 'http', ok: false, detail: 'integration "wiki": http provisioner health failed: the endpoint answered HTTP 503: maintenance' }]);
  });

  it('lists the resources the endpoint offers, without a grant in the request', async () => {
    receiver.answer = () => ({ body: { ok: true, resources: [{ name: 'docs', permissions: ['read', 'write'], description: 'Engineering space' }, { name: 'hr', permissions: ['read'] }], extra: 'ignored' } });
    expect(await open().listResources()).toEqual([
      { name: 'docs', permissions: ['read', 'write'], description: 'Engineering space' },
      { name: 'hr', permissions: ['read'] },
    ]);
    const sent = only();
    expect(sent.document).toEqual({ version: 1, operation: 'list-resources', integration: 'wiki' });
    expect(sent.signatureValid).toBe(true);
    expect(sent.headers['idempotency-key']).toMatch(/^list-resources:[0-9a-f-]{36}$/);
  });

  it('refuses a malformed list-resources answer, naming the field and never the value', async () => {
    receiver.answer = () => ({ body: { ok: true, resources: [{ name: 'docs', permissions: 'read-and-write-s3cr3t' }] } });
    const error = await failure(open().listResources());
    expect(error.message).toBe('integration "wiki": http provisioner list-resources failed: the endpoint\'s answer does not fit the protocol (resources.0.permissions: expected array)');
    expect(error.message).not.toContain('s3cr3t');
  });

  it('fails the health check when the config names a resource or permission the endpoint does not offer', async () => {
    receiver.answer = (request) => (request.document.operation === 'health'
      ? { body: { ok: true, checks: [{ name: 'api', ok: true }] } }
      : { body: { ok: true, resources: [{ name: 'docs', permissions: ['read'] }, { name: 'hr', permissions: ['read'] }] } });
    const report = await open().checkHealth();
    expect(report.ok).toBe(false);
    expect(report.checks).toEqual([
      { name: 'api', ok: true },
      { name: 'resources', ok: false, detail: 'the config names what the backend does not offer, so a grant there would fail: docs/write' },
    ]);

    receiver.answer = (request) => (request.document.operation === 'health'
      ? { body: { ok: true, checks: [{ name: 'api', ok: true }] } }
      : { body: { ok: true, resources: [{ name: 'docs', permissions: ['read', 'write', 'admin'] }] } });
    expect(await open().checkHealth()).toMatchObject({ ok: true, checks: [{ name: 'api' }, { name: 'resources', ok: true }] });
  });

  it('passes on ok:false with the message and retryable flag, on a 2xx or not', async () => {
    receiver.answer = () => ({ body: { ok: false, error: 'the API is down', retryable: true } });
    const error = await failure(open().revoke(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(error.message).toBe('integration "wiki": http provisioner revoke failed: the endpoint answered: the API is down');
    expect(error.retryable).toBe(true);

    receiver.answer = () => ({ status: 409, body: { ok: false, error: 'locked by another change', retryable: false } });
    const conflict = await failure(open().revoke(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(conflict.message).toContain('the endpoint answered HTTP 409: locked by another change');
    expect(conflict.retryable).toBe(false);
  });
});

describe('http provisioner failure modes', () => {
  it('aborts a request that gets no answer in time', async () => {
    receiver.answer = () => ({ body: { ok: true, present: true }, delayMs: 3_000 });
    const started = Date.now();
    const error = await failure(open({ timeoutMs: 300 }).check(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).toBe('integration "wiki": http provisioner check failed: no answer within 300 ms; the request was aborted');
    expect(error.operation).toBe('check');
  });

  it('names the status of a 500 and quotes a short, one-line start of the body, never the secret', async () => {
    receiver.answer = () => ({ status: 500, body: `internal error\nsecret was ${SECRET}\n${'x'.repeat(5000)}`, headers: { 'content-type': 'text/plain' } });
    const error = await failure(open().grant(grantFor(integration({ url: receiver.url() }))));
    expect(error.status).toBe(500);
    expect(error.message).toContain('integration "wiki": http provisioner grant failed: the endpoint answered HTTP 500: internal error secret was [redacted] xxx');
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('\n');
    expect(error.message.length).toBeLessThan(500);
  });

  it('says so when a non-2xx answer has no body', async () => {
    receiver.answer = () => ({ status: 502 });
    const error = await failure(open().revoke(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(error.message).toContain('the endpoint answered HTTP 502 with an empty body');
  });

  it('rejects a 2xx body that is not JSON without quoting it', async () => {
    receiver.answer = () => ({ body: 'password=hunter2-not-json' });
    const error = await failure(open().grant(grantFor(integration({ url: receiver.url() }))));
    expect(error.message).toBe('integration "wiki": http provisioner grant failed: the endpoint answered HTTP 200 with a body that is not a JSON document');
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects an answer of the wrong shape without quoting it', async () => {
    receiver.answer = () => ({ body: { ok: true, principal: 42, secrets: { password: 'hunter2-shape' } } });
    const error = await failure(open().grant(grantFor(integration({ url: receiver.url() }))));
    expect(error.message).toContain('does not fit the protocol');
    expect(error.message).toContain('principal: expected string');
    expect(error.message).not.toContain('hunter2');
    expect(String(error.stack)).not.toContain('hunter2');

    receiver.answer = () => ({ body: { ok: true, present: 'yes' } });
    const check = await failure(open().check(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(check.message).toContain('present');
  });

  it('does not follow a redirect', async () => {
    receiver.answer = (request) => (request.path === '/latch' ? { status: 307, headers: { location: receiver.url('/elsewhere') } } : { body: { ok: true } });
    const error = await failure(open().revoke(revokeInput(grantFor(integration({ url: receiver.url() })))));
    expect(error.message).toContain('HTTP 307, a redirect, which Latch does not follow');
    expect(receiver.requests.map((request) => request.path)).toEqual(['/latch']);
  });

  it('rejects an answer larger than 1 MiB', async () => {
    receiver.answer = () => ({ body: JSON.stringify({ ok: true, principal: 'p', details: { blob: 'x'.repeat(2 * 1024 * 1024) } }) });
    const error = await failure(open().grant(grantFor(integration({ url: receiver.url() }))));
    expect(error.message).toContain('with more than 1048576 bytes');
  });

  it('names an endpoint that cannot be reached, without its query string', async () => {
    const gone = await startReceiver(SECRET);
    const url = `${gone.url('/latch')}?code=api-key-in-the-query`;
    await gone.stop();
    const error = await failure(open({ url }).revoke(revokeInput(grantFor(integration({ url })))));
    expect(error.message).toContain(`cannot reach ${gone.url('/latch')}: `);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain('api-key-in-the-query');
  });

  it('verifies the endpoint\'s certificate: a self-signed one gets no request', async () => {
    let requests = 0;
    const server = createTlsServer(SELF_SIGNED, (_req, res) => { requests += 1; res.end('{"ok":true}'); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/latch`;
      const error = await failure(open({ url }).revoke(revokeInput(grantFor(integration({ url })))));
      expect(error.message).toContain(`cannot reach ${url}: self-signed certificate`);
      expect(requests).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses to send anything while certificate verification is turned off for the process', async () => {
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const url = receiver.url().replace('http:', 'https:');
      const error = await failure(open({ url }).revoke(revokeInput(grantFor(integration({ url })))));
      expect(error.message).toContain('NODE_TLS_REJECT_UNAUTHORIZED=0');
      expect(receiver.requests).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });

  it('keeps the signing secret out of what the provisioner shows when logged', () => {
    const provisioner = open();
    expect(inspect(provisioner, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(JSON.stringify(provisioner)).not.toContain(SECRET);
  });
});

describe('http provisioner settings', () => {
  const settingsError = (connection: Record<string, string | number | boolean>, credentials?: unknown, env: NodeJS.ProcessEnv = { [SECRET_ENV]: SECRET }) => {
    try {
      new HttpProvisioner(integration(connection, credentials), env);
    } catch (error) {
      expect(error).toBeInstanceOf(HttpSettingsError);
      return (error as Error).message;
    }
    throw new Error('expected the settings to be refused');
  };

  it('refuses plain http:// except to a loopback address', () => {
    expect(settingsError({ url: 'http://provisioner.example.com/latch' })).toBe(
      'integration "wiki" (type http): connection.url is plain http:// to provisioner.example.com; use https:// (plain http:// is allowed only to a loopback address: 127.0.0.0/8, ::1 or localhost)',
    );
    expect(settingsError({ url: 'http://10.0.0.7:8080/latch' })).toContain('connection.url is plain http://');
    expect(settingsError({ url: 'http://127.0.0.1.example.com/' })).toContain('connection.url is plain http://');
    for (const url of ['http://127.0.0.1:8080/latch', 'http://127.3.4.5/', 'http://[::1]:9000/', 'http://localhost/latch', 'https://provisioner.example.com/latch']) {
      expect(open({ url }).connection.url.href).toBe(new URL(url).href);
    }
  });

  it('checks the rest of the connection', () => {
    expect(settingsError({})).toContain('connection.url must be the endpoint\'s https:// URL');
    expect(settingsError({ url: 'not a url' })).toContain('connection.url "not a url" is not a URL');
    expect(settingsError({ url: 'ftp://files.example.com/' })).toContain('must be an https:// URL, not ftp:');
    expect(settingsError({ url: 'https://latch:hunter2@provisioner.example.com/' })).toContain('must not hold a user name or password');
    expect(settingsError({ url: 'https://provisioner.example.com/', timeoutMs: -1 })).toContain('connection.timeoutMs must be a positive whole number');
    expect(open({ timeoutMs: '2500' }).connection.timeoutMs).toBe(2_500);
    expect(new HttpProvisioner(integration({ url: receiver.url() }), { [SECRET_ENV]: SECRET }).connection.timeoutMs).toBe(30_000);
  });

  it('refuses a missing, empty or short signing secret, and credentials that are not an environment variable', () => {
    const url = 'https://provisioner.example.com/latch';
    expect(settingsError({ url }, undefined, {})).toBe(
      `integration "wiki" (type http): environment variable ${SECRET_ENV} (credentials.env) is not set; it holds the secret requests are signed with`,
    );
    expect(settingsError({ url }, undefined, { [SECRET_ENV]: '' })).toContain('is not set');
    expect(settingsError({ url }, undefined, { [SECRET_ENV]: 'short' })).toContain('needs at least 32');
    expect(settingsError({ url }, { none: true })).toContain('credentials must be { env: VARIABLE }');
    expect(settingsError({ url }, { secret: 'vault://kv/latch#wiki' })).toContain('credentials must be { env: VARIABLE }');
    expect(() => integration({ url }, { password: SECRET })).toThrow(/never write a secret in the config/);
  });

  it('is the provisioner Latch uses for type http', () => {
    const provisioner = defaultProvisioners({ [SECRET_ENV]: SECRET }).for(integration({ url: receiver.url() }));
    expect(provisioner).toBeInstanceOf(HttpProvisioner);
  });
});

// ---- the whole life cycle -------------------------------------------------------------

describe('a backend of the organisation\'s own, behind the http provisioner', () => {
  let latch: RunningLatch;
  let dir: string;
  let backend: Receiver;
  const notifier = new RecordingNotifier();
  const logs: string[] = [];
  /** The endpoint's accounts: principal → grant id. */
  const accounts = new Map<string, string>();
  const issued: string[] = [];

  beforeAll(async () => {
    backend = await startReceiver(SECRET);
    backend.answer = ({ document }) => {
      const { operation, grant } = document;
      if (operation === 'grant') {
        accounts.set(grant.principal, grant.id);
        const password = randomBytes(18).toString('base64url');
        issued.push(password);
        return { body: { ok: true, principal: grant.principal, secrets: { password }, details: { url: 'https://wiki.internal' } } };
      }
      if (operation === 'revoke') {
        accounts.delete(grant.principal);
        return { body: { ok: true } };
      }
      if (operation === 'list-managed') return { body: { ok: true, principals: [...accounts].map(([principal, reference]) => ({ principal, reference })) } };
      if (operation === 'health') return { body: { ok: true, checks: [{ name: 'api', ok: true }] } };
      return { status: 400, body: { ok: false, error: `unsupported operation ${operation}` } };
    };
    dir = mkdtempSync(join(tmpdir(), 'latch-http-'));
    writeFileSync(join(dir, 'latch.yaml'), `version: 1
integrations:
  - name: wiki
    type: http
    connection: { url: "${backend.url('/latch')}", timeoutMs: 5000 }
    credentials: { env: ${SECRET_ENV} }
    owner: owner@example.com
    accessDetails: "log in to {{url}} as {{username}}"
    resources:
      - { name: handbook, permissions: [edit] }
flows:
  - name: wiki
    requesters: [alice@example.com]
    access: [{ integration: wiki, resources: any, permissions: [edit] }]
    approval: { steps: [{ approvers: [owner@example.com] }] }
    duration: { default: 1h, max: 2h }
    justification: optional
`);
    latch = await startLatch({
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'trace' }, { write: (line: string) => { logs.push(line); } }),
      notifier, env: { [SECRET_ENV]: SECRET }, runner: { sweep: '*/1 * * * * *' },
    });
  });

  afterAll(async () => {
    await latch?.stop();
    await backend?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is granted on approval and revoked through signed requests, the credential reaching the requester and never the store or the log', async () => {
    const created = await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'handbook', permission: 'edit' });
    if (!created.ok) throw new Error(created.message);
    const id = created.record.request.id;
    expect(backend.requests.filter((request) => request.document?.operation === 'grant')).toEqual([]);
    expect(await decide(latch.ctx, { email: 'owner@example.com', via: 'test' }, id, 'approve')).toMatchObject({ ok: true, result: 'approved' });
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'active', 'the grant to be active');

    const record = await latch.store.getRequest(id);
    const grant = record?.grants[0];
    const principal = grant?.principal ?? '';
    expect(accounts.get(principal)).toBe(grant?.id);
    const delivered = notifier.deliveries.find((delivery) => delivery.record.request.id === id)?.items[0];
    const password = delivered?.secrets.password ?? '';
    expect(issued).toContain(password);
    expect(delivered?.details).toBe(`log in to https://wiki.internal as ${principal}`);

    await revokeAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, id);
    await eventually(async () => (await latch.store.getRequest(id))?.request.state === 'revoked', 'the grant to be revoked');
    expect(accounts.has(principal)).toBe(false);

    const calls = backend.requests.filter((request) => request.document?.grant?.id === grant?.id);
    expect(calls.map((request) => request.document.operation)).toEqual(['grant', 'revoke']);
    expect(calls.every((request) => request.signatureValid)).toBe(true);
    expect(calls.map((request) => request.headers['idempotency-key'])).toEqual([`${grant?.id}:grant`, `${grant?.id}:revoke`]);

    const audit = await latch.store.auditEvents({ requestId: id });
    expect(audit.map((event) => event.type)).toEqual(expect.arrayContaining(['request.created', 'request.approved', 'grant.granted', 'grant.revoked']));
    for (const secret of [password, SECRET]) {
      expect(JSON.stringify(audit)).not.toContain(secret);
      expect(logs.join('')).not.toContain(secret);
      for (const file of readdirSync(dir).filter((name) => name.startsWith('latch.db'))) {
        expect(readFileSync(join(dir, file)).includes(Buffer.from(secret)), `${file} holds a secret`).toBe(false);
      }
    }
    expect(logs.length).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'latch.db'))).toBe(true);
  });
});
