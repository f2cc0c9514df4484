// Receivers of Latch's audit stream, on 127.0.0.1: a webhook endpoint that checks the
// signature the way docs/OPERATORS.md tells a receiver to, syslog over TCP and TLS with
// RFC 6587 octet-counting, and a Splunk HTTP Event Collector. They record exactly what
// Latch sent and parse it with code of their own, not Latch's.
import { execFileSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import pino from 'pino';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { revokeAccess } from '../../handlers/revoke.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import type { AuditEvent } from '../../storage/store.js';
import { MemoryProvisioner } from './memory-provisioner.js';
import { RecordingNotifier } from './recording-notifier.js';

/** What a receiver reads out of one delivered event (the fields every sink carries). */
export interface ReceivedEvent {
  schema: string;
  id: string;
  seq: number;
  time: string;
  at: number;
  type: string;
  requestId: string | null;
  actor: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
  instance: string;
}

async function listen(server: HttpServer | TcpServer, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function closeServer(server: HttpServer | TcpServer, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: HttpServer | TcpServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

function readBody(request: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export interface WebhookDelivery {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The signature matched the body and the timestamp was within five minutes. */
  verified: boolean;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Every request, answered or refused, in arrival order. */
  requests: WebhookDelivery[];
  /** The events it accepted (2xx), in arrival order. */
  accepted(): ReceivedEvent[];
  /** Answers the next `count` requests with 503. */
  refuseNext(count: number): void;
  /** Stops listening (Latch's connections are cut) or listens again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** The check a receiver runs: `v1=` HMAC-SHA256 of `<timestamp>.<raw body>`, compared in constant time, timestamp fresh. */
export function verifyLatchWebhook(secret: string, headers: IncomingHttpHeaders, rawBody: string, nowMs = Date.now()): boolean {
  const timestamp = headers['x-latch-timestamp'];
  const given = headers['x-latch-signature'];
  if (typeof timestamp !== 'string' || !/^\d+$/.test(timestamp) || typeof given !== 'string') return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex')}`);
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export async function startWebhookReceiver(secret: string, options: { listening?: boolean; port?: number } = {}): Promise<WebhookReceiver> {
  const requests: WebhookDelivery[] = [];
  let refusals = 0;
  const make = (): { server: HttpServer; sockets: Set<Socket> } => {
    const server = createHttpServer((request, response) => {
      void readBody(request).then((body) => {
        const verified = verifyLatchWebhook(secret, request.headers, body);
        let status = 200;
        if (!verified) status = 401;
        else if (refusals > 0) {
          refusals -= 1;
          status = 503;
        }
        requests.push({ status, headers: request.headers, body, verified });
        response.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true}' : '{"ok":false}');
      });
    });
    return { server, sockets: track(server) };
  };
  // A port is taken first (and given back when not listening), so Latch can be pointed at it before it is up.
  let current: { server: HttpServer; sockets: Set<Socket> } | null = make();
  const port = await listen(current.server, options.port ?? 0);
  if (options.listening === false) {
    await closeServer(current.server, current.sockets);
    current = null;
  }
  return {
    url: `http://127.0.0.1:${port}/latch/audit`,
    port,
    requests,
    accepted: () => requests.filter((request) => request.status === 200).map((request) => JSON.parse(request.body) as ReceivedEvent),
    refuseNext(count) {
      refusals = count;
    },
    async down() {
      if (current) await closeServer(current.server, current.sockets);
      current = null;
    },
    async up() {
      if (current) return;
      current = make();
      await listen(current.server, port);
    },
    async close() {
      if (current) await closeServer(current.server, current.sockets);
      current = null;
    },
  };
}

/** One RFC 5424 message taken apart. */
export interface SyslogMessage {
  pri: number;
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → parameters, unescaped. */
  structuredData: Record<string, Record<string, string>>;
  msg: string;
}

/** A strict reading of RFC 5424 section 6; throws on anything malformed. */
export function parseRfc5424(line: string): SyslogMessage {
  const header = /^<(\d{1,3})>([1-9]\d{0,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(line);
  if (!header) throw new Error(`not an RFC 5424 header: ${line.slice(0, 120)}`);
  const [, pri, version, timestamp, hostname, appName, procId, msgId] = header as unknown as string[];
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.test(timestamp ?? '')) throw new Error(`bad TIMESTAMP ${timestamp ?? ''}`);
  if ((hostname ?? '').length > 255 || (appName ?? '').length > 48 || (procId ?? '').length > 128 || (msgId ?? '').length > 32) throw new Error('a header field is too long');
  let rest = line.slice(header[0].length);
  const structuredData: Record<string, Record<string, string>> = {};
  if (rest.startsWith('-')) {
    rest = rest.slice(1);
  } else {
    while (rest.startsWith('[')) {
      const id = /^\[([^\s=\]"]{1,32})/.exec(rest);
      if (!id?.[1]) throw new Error(`bad SD-ID in ${rest.slice(0, 60)}`);
      const params: Record<string, string> = {};
      let i = id[0].length;
      while (rest[i] === ' ') {
        const name = /^ ([^\s=\]"]{1,32})="/.exec(rest.slice(i));
        if (!name?.[1]) throw new Error(`bad SD-PARAM at ${rest.slice(i, i + 40)}`);
        i += name[0].length;
        let value = '';
        while (rest[i] !== '"') {
          if (i >= rest.length) throw new Error('unterminated SD-PARAM value');
          if (rest[i] === '\\' && ['"', '\\', ']'].includes(rest[i + 1] ?? '')) {
            value += rest[i + 1];
            i += 2;
          } else {
            if (rest[i] === ']') throw new Error('unescaped ] in an SD-PARAM value');
            value += rest[i];
            i += 1;
          }
        }
        i += 1;
        params[name[1]] = value;
      }
      if (rest[i] !== ']') throw new Error(`SD-ELEMENT not closed at ${rest.slice(i, i + 40)}`);
      structuredData[id[1]] = params;
      rest = rest.slice(i + 1);
    }
    if (Object.keys(structuredData).length === 0) throw new Error('no STRUCTURED-DATA');
  }
  if (rest !== '' && !rest.startsWith(' ')) throw new Error('no space before MSG');
  const n = Number(pri);
  return {
    pri: n, facility: Math.floor(n / 8), severity: n % 8, version: Number(version), timestamp: timestamp ?? '', hostname: hostname ?? '', appName: appName ?? '',
    procId: procId ?? '', msgId: msgId ?? '', structuredData, msg: rest.slice(1),
  };
}

export interface SyslogReceiver {
  port: number;
  /** Every framed message, as received. */
  messages: string[];
  /** Bytes that did not form a valid octet-counted frame (should stay empty). */
  garbage: string[];
  close(): Promise<void>;
}

/** Reads RFC 6587 octet-counted frames: `<length> <message>`, one after another on the stream. */
function readFrames(socket: Socket, messages: string[], garbage: string[]): void {
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const space = buffer.indexOf(0x20);
      if (space === -1) return;
      const length = buffer.subarray(0, space).toString('ascii');
      if (!/^[1-9]\d*$/.test(length)) {
        garbage.push(buffer.toString('utf8'));
        buffer = Buffer.alloc(0);
        return;
      }
      const end = space + 1 + Number(length);
      if (buffer.length < end) return;
      messages.push(buffer.subarray(space + 1, end).toString('utf8'));
      buffer = buffer.subarray(end);
    }
  });
}

export async function startSyslogReceiver(options: { port?: number; tls?: { key: string; cert: string } } = {}): Promise<SyslogReceiver> {
  const messages: string[] = [];
  const garbage: string[] = [];
  const server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, (socket) => readFrames(socket, messages, garbage))
    : createTcpServer((socket) => readFrames(socket, messages, garbage));
  const sockets = new Set<Socket>();
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  const port = await listen(server, options.port ?? 0);
  return { port, messages, garbage, close: () => closeServer(server, sockets) };
}

/** A free loopback port nobody listens on (taken, then given back). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface TestCertificates {
  dir: string;
  caFile: string;
  key: string;
  cert: string;
  /** Another CA, which did not sign the server's certificate. */
  otherCaFile: string;
  remove(): void;
}

/** A CA made for the test and a server certificate it signed for 127.0.0.1 and localhost. */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'latch-ca-'));
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=Latch test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=syslog.test');
  writeFileSync(at('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('server.ext'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('other.key'), '-out', at('other.pem'), '-days', '2', '-subj', '/CN=Some other CA',
    '-addext', 'basicConstraints=critical,CA:TRUE');
  return {
    dir, caFile: at('ca.pem'), otherCaFile: at('other.pem'), key: readFileSync(at('server.key'), 'utf8'), cert: readFileSync(at('server.pem'), 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface HecRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HecDouble {
  url: string;
  requests: HecRequest[];
  /** Starts listening on its port (when made with `listening: false`). */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Answers like a collector that indexed the batch. */
export async function startHecDouble(options: { listening?: boolean } = {}): Promise<HecDouble> {
  const requests: HecRequest[] = [];
  const make = (): { server: HttpServer; sockets: Set<Socket> } => {
    const server = createHttpServer((request, response) => {
      void readBody(request).then((body) => {
        requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    return { server, sockets: track(server) };
  };
  let current: { server: HttpServer; sockets: Set<Socket> } | null = make();
  const port = await listen(current.server);
  if (options.listening === false) {
    await closeServer(current.server, current.sockets);
    current = null;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async up() {
      if (current) return;
      current = make();
      await listen(current.server, port);
    },
    async close() {
      if (current) await closeServer(current.server, current.sockets);
      current = null;
    },
  };
}

/** Latch on a temp SQLite file with a memory backend, quick retries and a fast poll. */
export async function startStreamingLatch(configFile: string, dbFile: string, env: NodeJS.ProcessEnv = {}, logger = pino({ level: 'silent' }), owner?: string): Promise<RunningLatch> {
  return startLatch({
    configFile, databaseUrl: `sqlite:${dbFile}`, port: 0, host: '127.0.0.1', logger, env, notifier: new RecordingNotifier(),
    provisioners: new ProvisionerRegistry({}).use('orders', new MemoryProvisioner()), runner: { sweep: '*/1 * * * * *' },
    // Two Latches in one test process share a pid, so each is named as another process would be.
    auditStream: { pollMs: 50, retryBaseMs: 100, retryMaxMs: 400, ...(owner ? { owner } : {}) }, watchConfig: false,
  });
}

/** A whole life cycle on the staging flow: requested, approved by the flow, granted, revoked by the requester. Returns its id. */
export async function runLifecycle(latch: RunningLatch, who = 'alice@example.com'): Promise<string> {
  const actor = { email: who, via: 'test' };
  const made = await requestAccess(latch.ctx, actor, { resource: 'orders-staging', permission: 'read', durationMs: 3_600_000, reason: 'checking a staging import' });
  if (!made.ok) throw new Error(made.message);
  const id = made.record.request.id;
  await latch.runner.runDue();
  const revoked = await revokeAccess(latch.ctx, actor, id, 'done');
  if (!revoked.ok) throw new Error(revoked.message);
  await latch.runner.runDue();
  return id;
}

/** Where a sink new at start-up with `from: now` begins: its first event is the config.loaded that added it. */
export async function startSeqOfNewSink(latch: RunningLatch): Promise<number> {
  const loaded = (await latch.store.auditEvents({})).filter((event) => event.type === 'config.loaded').at(-1);
  if (!loaded) throw new Error('no config.loaded event');
  return loaded.seq - 1;
}

/** The events a sink must have received: everything after `afterSeq`, in order. */
export async function storedAfter(latch: RunningLatch, afterSeq: number): Promise<AuditEvent[]> {
  return latch.store.auditEvents({ afterSeq });
}

/** One value of a metric with a `sink` label from /metrics, or null when it is not there. */
export async function sinkMetric(latch: RunningLatch, name: string, sink: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${latch.port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{sink="${sink}"}`));
  return line ? Number(line.split(' ').at(-1)) : null;
}
