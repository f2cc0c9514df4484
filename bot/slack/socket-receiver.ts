import type { App } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import { LogLevel, SocketModeClient } from '@slack/socket-mode';
import { ErrorCode } from '@slack/web-api';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from '../../handlers/context.js';
import { backoffDelay } from '../../jobs/backoff.js';
import { metricsRegistry } from '../../jobs/metrics.js';
import { InFlight } from '../in-flight.js';
import { runWithLogContext } from '../log-context.js';
import { deliverToBolt, mountSlackEvents, type SlackReceiver, type SlackReceiverStatus } from './receiver.js';

type SocketState = Extract<SlackReceiverStatus, { mode: 'socket' }>['state'];
const SOCKET_STATES: readonly SocketState[] = ['connecting', 'connected', 'reconnecting', 'failed', 'stopped'];

/** What apps.connections.open answers for a token that will never work: retrying cannot help. */
const TOKEN_REFUSALS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'not_allowed_token_type', 'team_disabled', 'user_removed_from_team']);

// A connection that stayed up this long was a good one: the next drop starts the backoff afresh.
const STABLE_MS = 30_000;
// apps.connections.open must answer within REQUEST_TIMEOUT_MS, and Slack's hello come within
// ATTEMPT_TIMEOUT_MS of asking, or the attempt counts as failed.
const REQUEST_TIMEOUT_MS = 10_000;
const ATTEMPT_TIMEOUT_MS = 15_000;
// How long stop() waits for envelopes Bolt is still deciding how to acknowledge (Slack's own limit is 3 s).
const ACK_DRAIN_MS = 3_000;
const CLOSE_TIMEOUT_MS = 2_000;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

const FIX = "In the Slack app's settings (api.slack.com/apps → Latch → Basic Information → App-Level Tokens) generate a token with the connections:write scope, set SLACK_APP_TOKEN to it and start Latch again; to receive Slack over HTTP instead, unset SLACK_APP_TOKEN and set SLACK_SIGNING_SECRET.";

/** Slack will not let this app-level token open a connection: fatal, reported once, never retried. */
export class SlackTokenRefused extends Error {
  constructor(readonly reason: string) {
    super(reason === 'not_an_app_token'
      ? `SLACK_APP_TOKEN is not an app-level token (those start with xapp-), so Latch cannot connect to Slack over Socket Mode. ${FIX}`
      : `Slack refused SLACK_APP_TOKEN (${reason}) when Latch asked for a Socket Mode connection: the app-level token is invalid, revoked, lacks connections:write or belongs to a disabled account. Latch will not retry. ${FIX}`);
    this.name = 'SlackTokenRefused';
  }
}

export interface SocketReceiverOptions {
  /** The app-level token (xapp-…) with connections:write. */
  appToken: string;
  /** Slack Web API base, where apps.connections.open is asked for the WebSocket URL. */
  apiUrl?: string | undefined;
  /** The HTTP server: /slack/events on it says that Slack comes over Socket Mode here. */
  server: FastifyInstance;
  log: Logger & { debug?(fields: Record<string, unknown>, message: string): void };
  /** False once Latch is stopping: envelopes are then left unacknowledged, so Slack delivers them again. */
  accepting?: () => boolean;
  /** Called once when Slack refuses the token on a reconnect (at start, start() rejects instead). */
  onFatal?: (error: SlackTokenRefused) => void;
}

interface Envelope {
  ack(response?: Record<string, unknown>): Promise<void>;
  envelope_id: string;
  type: string;
  body?: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
}

/** The client's own log lines, mostly about every frame, go to debug; Latch logs what matters itself. */
function clientLogger(log: SocketReceiverOptions['log']): SlackLogger {
  const debug = (...parts: unknown[]): void => log.debug?.({}, `slack socket: ${parts.map(String).join(' ')}`);
  return { debug: () => {}, info: () => {}, warn: debug, error: debug, setLevel: () => {}, getLevel: () => LogLevel.WARN, setName: () => {} };
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : error === undefined ? 'the connection closed' : String(error));

function tokenRefusal(error: unknown): SlackTokenRefused | null {
  const data = (error as { code?: string; data?: { error?: unknown } } | undefined);
  if (data?.code !== ErrorCode.PlatformError || typeof data.data?.error !== 'string') return null;
  return TOKEN_REFUSALS.has(data.data.error) ? new SlackTokenRefused(data.data.error) : null;
}

function retryAfterMs(error: unknown): number {
  const limited = error as { code?: string; retryAfter?: number } | undefined;
  return limited?.code === ErrorCode.RateLimitedError && typeof limited.retryAfter === 'number' ? limited.retryAfter * 1000 : 0;
}

/**
 * Slack over Socket Mode: Latch opens the connection (apps.connections.open with the
 * app-level token, then the WebSocket it names), so it needs no inbound URL. Each envelope
 * goes to the same Bolt app, through the same acknowledgement rule, as an HTTP request to
 * /slack/events; the ack carries the listener's answer (a modal's inline errors) back by
 * envelope id. The connection is Latch's to keep: it reconnects with backoff when Slack
 * drops it or asks it to (`disconnect`), and gives up only when Slack refuses the token.
 */
export class SocketModeSlackReceiver implements SlackReceiver {
  readonly mode = 'socket';
  private app: App | null = null;
  private readonly client: SocketModeClient;
  private state: SocketState = 'connecting';
  private everConnected = false;
  private connectedAt: number | null = null;
  private reconnects = 0;
  private failures = 0;
  private lastError: string | null = null;
  private disconnectReason: string | null = null;
  private socketError: unknown;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly unacked = new InFlight();
  private readonly reconnected: Counter;

  constructor(private readonly options: SocketReceiverOptions) {
    this.client = new SocketModeClient({
      appToken: options.appToken,
      // Reconnecting is done here, where a refused token can stop it and the backoff is bounded.
      autoReconnectEnabled: false,
      logger: clientLogger(options.log),
      clientOptions: { slackApiUrl: options.apiUrl ?? 'https://slack.com/api/', retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: REQUEST_TIMEOUT_MS },
    });
    this.client.on('slack_event', (envelope: Envelope) => this.receive(envelope));
    this.client.on('disconnected', () => this.dropped());
    this.client.on('error', (error: unknown) => { this.socketError = error; });
    // The client handles Slack's `disconnect` message by closing; the reason is worth a log line.
    this.client.on('ws_message', (data: unknown) => {
      if (typeof data !== 'string' || !data.includes('"disconnect"')) return;
      try {
        const message = JSON.parse(data) as { type?: string; reason?: string };
        if (message.type === 'disconnect') this.disconnectReason = message.reason ?? 'unknown';
      } catch {
        // Not JSON: the client ignores it too.
      }
    });
    mountSlackEvents(options.server, async (_raw, _request, reply) => reply.code(404).send({
      error: 'Latch receives Slack over Socket Mode (SLACK_APP_TOKEN is set), not at this URL. Point the Slack app at Socket Mode, or unset SLACK_APP_TOKEN to receive Slack here.',
    }));
    this.reconnected = registerSocketMetrics(() => this.state);
  }

  init(app: App): void {
    this.app = app;
  }

  /**
   * Opens the first connection. Resolves once connected, or once a first attempt failed for
   * a reason that may pass (Slack unreachable): Latch then comes up and keeps trying in the
   * background. Rejects with SlackTokenRefused when the token itself is refused.
   */
  async start(): Promise<void> {
    this.stopping = false;
    if (!this.options.appToken.startsWith('xapp-')) {
      const refused = new SlackTokenRefused('not_an_app_token');
      this.fail(refused);
      throw refused;
    }
    const refused = await this.connect();
    if (refused) throw refused;
  }

  /** Stops taking envelopes, lets those being acknowledged finish, then closes the connection. */
  async stop(withinMs = ACK_DRAIN_MS + CLOSE_TIMEOUT_MS): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    const deadline = Date.now() + withinMs;
    await this.unacked.settled(Math.min(ACK_DRAIN_MS, withinMs));
    if (this.state !== 'failed') this.state = 'stopped';
    this.connectedAt = null;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.client.disconnect().catch(() => undefined),
      new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, Math.min(CLOSE_TIMEOUT_MS, deadline - Date.now()))); }),
    ]);
    clearTimeout(timer);
  }

  status(): SlackReceiverStatus {
    return {
      mode: 'socket', state: this.state, connectedSince: this.connectedAt === null ? null : new Date(this.connectedAt).toISOString(),
      reconnects: this.reconnects, lastError: this.lastError,
    };
  }

  /** One attempt: the WebSocket URL, the connection, Slack's hello. A refused token is returned; anything else is retried later. */
  private async connect(): Promise<SlackTokenRefused | null> {
    this.state = this.everConnected ? 'reconnecting' : 'connecting';
    this.socketError = undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.start(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => {
            void this.client.disconnect();
            reject(new Error(`no hello from Slack within ${ATTEMPT_TIMEOUT_MS / 1000} s`));
          }, ATTEMPT_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      if (this.stopping) return null;
      const refused = tokenRefusal(error);
      if (refused) {
        this.fail(refused);
        return refused;
      }
      this.lastError = errorText(error ?? this.socketError);
      const delay = this.retryIn(retryAfterMs(error));
      this.options.log.warn({ err: this.lastError, attempt: this.failures, retryInMs: delay }, 'Slack Socket Mode could not connect; retrying');
      return null;
    } finally {
      clearTimeout(timer);
    }
    // stop() may have come while the connection was being opened: it must not outlive the stop.
    if (this.stopping) {
      void this.client.disconnect();
      return null;
    }
    if (this.everConnected) {
      this.reconnects += 1;
      this.reconnected.inc();
    }
    this.everConnected = true;
    this.state = 'connected';
    this.connectedAt = Date.now();
    this.lastError = null;
    this.disconnectReason = null;
    this.options.log.info({ reconnects: this.reconnects }, this.reconnects === 0 ? 'Slack is connected over Socket Mode' : 'Slack Socket Mode reconnected');
    return null;
  }

  private fail(refused: SlackTokenRefused): void {
    this.state = 'failed';
    this.connectedAt = null;
    this.lastError = refused.reason;
  }

  /** An open connection closed: Slack asked for it (refresh), or the network or Slack dropped it. */
  private dropped(): void {
    if (this.state !== 'connected' || this.stopping) return;
    if (this.connectedAt !== null && Date.now() - this.connectedAt >= STABLE_MS) this.failures = 0;
    this.connectedAt = null;
    const reason = this.disconnectReason;
    this.disconnectReason = null;
    this.lastError = reason ? `Slack asked to reconnect (${reason})` : 'the connection closed';
    const delay = this.retryIn(0);
    const routine = reason === 'refresh_requested' || reason === 'warning';
    this.options.log[routine ? 'info' : 'warn']({ reason: reason ?? 'closed', retryInMs: delay }, reason === 'link_disabled'
      ? 'Slack closed the Socket Mode connection: Socket Mode was turned off in the Slack app\'s settings; retrying'
      : 'Slack Socket Mode connection closed; reconnecting');
  }

  /** Schedules the next attempt: at once after a good connection, then about 1 s doubling to 30 s, never sooner than Slack asked. */
  private retryIn(atLeastMs: number): number {
    const delay = Math.max(atLeastMs, this.failures === 0 ? 0 : backoffDelay(this.failures, RETRY_FIRST_MS, RETRY_MAX_MS));
    this.failures += 1;
    this.state = 'reconnecting';
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.reconnect(), delay);
    return delay;
  }

  private async reconnect(): Promise<void> {
    this.retryTimer = undefined;
    if (this.stopping) return;
    const refused = await this.connect();
    if (refused) this.options.onFatal?.(refused);
  }

  private receive(envelope: Envelope): void {
    const app = this.app;
    if (!app || !envelope.body) return;
    if (this.stopping || this.options.accepting?.() === false) {
      // As the 503 over HTTP: Slack retries an unacknowledged event (here once Latch is back, or on another
      // instance's connection), and a person whose command or click timed out tries again.
      this.options.log.info({ envelope: envelope.envelope_id, type: envelope.type }, 'Slack envelope left for redelivery: Latch is stopping');
      return;
    }
    const done = this.unacked.begin();
    const body = envelope.body;
    // Every line this envelope sets off, down to the work after the ack, carries its envelope id.
    void runWithLogContext({ reqId: envelope.envelope_id }, async () => {
      try {
        const response = await deliverToBolt(app, { body, retryNum: envelope.retry_num || undefined, retryReason: envelope.retry_reason || undefined }, this.options.log);
        await envelope.ack(ackPayload(response));
      } catch (error) {
        this.options.log.warn({ envelope: envelope.envelope_id, type: envelope.type, err: errorText(error) }, 'could not acknowledge a Slack envelope; Slack will deliver it again');
      } finally {
        done();
      }
    });
  }
}

/** What Bolt's ack() got, as the payload of the envelope's ack: an object as it is, text as `{ text }`, nothing as nothing. */
function ackPayload(response: unknown): Record<string, unknown> | undefined {
  if (typeof response === 'object' && response !== null) return response as Record<string, unknown>;
  return typeof response === 'string' && response !== '' ? { text: response } : undefined;
}

/** The connection's state and how often it was opened again, for /metrics (one Latch per process; the last one started reports). */
function registerSocketMetrics(state: () => SocketState): Counter {
  metricsRegistry.removeSingleMetric('latch_slack_socket_state');
  metricsRegistry.removeSingleMetric('latch_slack_socket_reconnects_total');
  new Gauge({
    name: 'latch_slack_socket_state', help: 'Slack Socket Mode connection: 1 for the state it is in (connected, connecting, reconnecting, failed, stopped).',
    labelNames: ['state'], registers: [metricsRegistry],
    collect() {
      const now = state();
      for (const candidate of SOCKET_STATES) this.set({ state: candidate }, candidate === now ? 1 : 0);
    },
  });
  return new Counter({ name: 'latch_slack_socket_reconnects_total', help: 'Times the Slack Socket Mode connection was opened again after it closed.', registers: [metricsRegistry] });
}
