// Slack's Socket Mode side, on 127.0.0.1: apps.connections.open on the Web API double
// (slack-double.ts) hands out a single-use WebSocket URL; the socket says hello, sends
// envelopes as Slack does (slash_commands, interactive, events_api), pings, can ask the
// app to reconnect or drop it, and records every acknowledgement by envelope id.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { JsonObject, SlackDouble } from './slack-double.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

/** One envelope as Slack sends it over the socket. */
export interface SocketEnvelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: JsonObject;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

export interface SocketAck {
  envelopeId: string;
  /** The `payload` of the ack, when the app sent one (a modal's `response_action`, a command's text). */
  payload: JsonObject | undefined;
  at: number;
  /** Which connection (1, 2, ... in the order they were opened) carried it. */
  connection: number;
}

export interface SentEnvelope {
  envelope: SocketEnvelope;
  sentAt: number;
  connection: number;
}

export interface SendOptions {
  /** Redelivery: Slack's retry counter and reason (default `http_timeout`). */
  retryAttempt?: number;
  retryReason?: string;
  /** Default a fresh id; pass the id of an envelope to redeliver it under the same one. */
  envelopeId?: string;
  /** How long to wait for an open connection and then for the ack. Default 5000. */
  timeoutMs?: number;
}

export interface SocketDoubleOptions {
  /** Only this app-level token gets a URL; another `xapp-` token is `invalid_auth`. Default: any `xapp-` token. */
  appToken?: string;
  /** How often the server pings each connection, as Slack's does. Default 5000. */
  pingIntervalMs?: number;
}

interface Connection {
  id: number;
  socket: WebSocket;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Turns a body of slack-signing.ts (what Slack would POST to /slack/events) into the envelope
 * Slack sends over Socket Mode instead: a command's form fields as an object, an interaction's
 * `payload=` JSON, an event callback as it is.
 */
export function envelopeFor(body: string): { type: EnvelopeType; payload: JsonObject; accepts_response_payload: boolean } {
  if (body.trimStart().startsWith('{')) {
    const payload = JSON.parse(body) as JsonObject;
    return { type: 'events_api', payload, accepts_response_payload: false };
  }
  const form = new URLSearchParams(body);
  const interaction = form.get('payload');
  if (interaction !== null) {
    const payload = JSON.parse(interaction) as JsonObject;
    // Slack takes a response in the ack of what is answered in place: modal submissions and option lists.
    const answersInAck = payload.type === 'view_submission' || payload.type === 'block_suggestion';
    return { type: 'interactive', payload, accepts_response_payload: answersInAck };
  }
  return { type: 'slash_commands', payload: Object.fromEntries(form.entries()), accepts_response_payload: true };
}

export class SlackSocketDouble {
  readonly acks: SocketAck[] = [];
  readonly sent: SentEnvelope[] = [];
  /** Messages from the app that were not acks. */
  readonly unexpected: unknown[] = [];
  /** Connections refused for a ticket that was unknown or used. */
  refusedTickets = 0;
  /** `ws://127.0.0.1:PORT`, the socket's origin. */
  readonly origin: string;

  private readonly tickets = new Map<string, { used: boolean }>();
  private readonly open: Connection[] = [];
  private opened = 0;
  private connectionWaiters: { count: number; resolve: () => void }[] = [];
  private ackWaiters = new Map<string, (ack: SocketAck) => void>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    readonly slack: SlackDouble,
    private readonly server: ReturnType<typeof createServer>,
    private readonly wss: WebSocket.Server,
    port: number,
    private readonly options: SocketDoubleOptions,
  ) {
    this.origin = `ws://127.0.0.1:${port}`;
    slack.serveSocketMode((token) => this.issueUrl(token));
    wss.on('connection', (socket: WebSocket) => this.connected(socket));
    this.pinger = setInterval(() => {
      for (const connection of this.open) if (connection.socket.readyState === WebSocket.OPEN) connection.socket.ping();
    }, options.pingIntervalMs ?? 5_000);
    this.pinger.unref();
  }

  /** Connections opened so far (each got its hello). */
  get connections(): number {
    return this.opened;
  }

  get openConnections(): number {
    return this.open.length;
  }

  /** Resolves once `count` connections have been opened in all (the first is 1). */
  waitForConnections(count: number, timeoutMs = 5_000): Promise<void> {
    if (this.opened >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.opened} Socket Mode connection(s) opened within ${timeoutMs} ms, not ${count}`)), timeoutMs);
      this.connectionWaiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  /** Sends an envelope on the newest open connection (waiting for one) and resolves with its ack. */
  async send(type: EnvelopeType, payload: JsonObject, acceptsResponsePayload: boolean, options: SendOptions = {}): Promise<{ envelope: SocketEnvelope; ack: SocketAck }> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    const deadline = Date.now() + timeoutMs;
    while (this.open.length === 0) {
      if (Date.now() > deadline) throw new Error(`no open Socket Mode connection within ${timeoutMs} ms to send a ${type} envelope on`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const connection = this.open[this.open.length - 1] as Connection;
    const envelope: SocketEnvelope = {
      envelope_id: options.envelopeId ?? randomUUID(),
      type,
      payload,
      accepts_response_payload: acceptsResponsePayload,
      ...(type === 'events_api' || options.retryAttempt !== undefined ? { retry_attempt: options.retryAttempt ?? 0, retry_reason: options.retryReason ?? (options.retryAttempt ? 'http_timeout' : '') } : {}),
    };
    const acked = new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackWaiters.delete(envelope.envelope_id);
        reject(new Error(`envelope ${envelope.envelope_id} (${type}) was not acknowledged within ${Math.max(0, deadline - Date.now())} ms`));
      }, Math.max(1, deadline - Date.now()));
      this.ackWaiters.set(envelope.envelope_id, (ack) => { clearTimeout(timer); resolve(ack); });
    });
    this.sent.push({ envelope, sentAt: Date.now(), connection: connection.id });
    connection.socket.send(JSON.stringify(envelope));
    return { envelope, ack: await acked };
  }

  /** Sends what Slack would have POSTed to /slack/events (a slack-signing.ts body) as the matching envelope. */
  deliver(body: string, options: SendOptions = {}): Promise<{ envelope: SocketEnvelope; ack: SocketAck }> {
    const { type, payload, accepts_response_payload } = envelopeFor(body);
    return this.send(type, payload, accepts_response_payload, options);
  }

  /** Slack's `disconnect` message: `refresh_requested` (about to recycle the connection), `warning` (shortly will), `link_disabled`. */
  askToReconnect(reason: 'refresh_requested' | 'warning' | 'link_disabled' = 'refresh_requested'): void {
    for (const connection of this.open) connection.socket.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-double' } }));
  }

  /** Cuts every connection without a close frame, as a network failure or a crashed Slack host would. */
  drop(): void {
    for (const connection of this.open.splice(0)) connection.socket.terminate();
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    this.drop();
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** @internal Whether an upgrade request carries a ticket issued by apps.connections.open and not used yet. */
  admit(request: IncomingMessage): boolean {
    const ticket = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams.get('ticket') ?? '';
    const entry = this.tickets.get(ticket);
    if (!entry || entry.used) {
      this.refusedTickets += 1;
      return false;
    }
    entry.used = true;
    return true;
  }

  private issueUrl(token: string): string | null {
    if (this.options.appToken !== undefined && token !== this.options.appToken) return null;
    const ticket = randomUUID();
    this.tickets.set(ticket, { used: false });
    return `${this.origin}/link/?ticket=${ticket}&app_id=${this.slack.appId}`;
  }

  private connected(socket: WebSocket): void {
    this.opened += 1;
    const connection: Connection = { id: this.opened, socket };
    this.open.push(connection);
    socket.on('message', (data: WebSocket.Data) => this.received(connection, String(data)));
    socket.on('close', () => {
      const index = this.open.indexOf(connection);
      if (index >= 0) this.open.splice(index, 1);
    });
    socket.send(JSON.stringify({
      type: 'hello', num_connections: this.open.length,
      debug_info: { host: 'applink-double', build_number: 1, approximate_connection_time: 18_060 },
      connection_info: { app_id: this.slack.appId },
    }));
    for (const waiter of [...this.connectionWaiters]) {
      if (this.opened >= waiter.count) {
        this.connectionWaiters = this.connectionWaiters.filter((w) => w !== waiter);
        waiter.resolve();
      }
    }
  }

  private received(connection: Connection, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.unexpected.push(text);
      return;
    }
    if (!isObject(message) || typeof message.envelope_id !== 'string') {
      this.unexpected.push(message);
      return;
    }
    const payload = isObject(message.payload) && Object.keys(message.payload).length > 0 ? message.payload : undefined;
    const ack: SocketAck = { envelopeId: message.envelope_id, payload, at: Date.now(), connection: connection.id };
    this.acks.push(ack);
    const waiter = this.ackWaiters.get(ack.envelopeId);
    this.ackWaiters.delete(ack.envelopeId);
    waiter?.(ack);
  }
}

/**
 * Starts the Socket Mode side of `slack` (a started Web API double) on 127.0.0.1: from now on
 * its apps.connections.open answers a URL of this socket.
 */
export async function startSlackSocketDouble(slack: SlackDouble, options: SocketDoubleOptions = {}): Promise<SlackSocketDouble> {
  const server = createServer((_request, response) => response.writeHead(426).end());
  let double: SlackSocketDouble | undefined;
  const wss = new WebSocket.Server({
    server,
    verifyClient: (info: { req: IncomingMessage }, callback: (ok: boolean, code?: number) => void) => callback(double?.admit(info.req) ?? false, 401),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  double = new SlackSocketDouble(slack, server, wss, port, options);
  return double;
}
