import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../handlers/context.js';
import { verifySlackSignature } from './verify.js';

export const SLACK_EVENTS_PATH = '/slack/events';
// Slack gives up on an answer after 3 s; Latch acknowledges well before that.
const ACK_DEADLINE_MS = 2_500;

/** How Slack reaches Latch: HTTP at /slack/events, or a Socket Mode connection Latch opens itself. */
export type SlackReceiverStatus =
  | { mode: 'http'; path: string }
  | { mode: 'socket'; state: 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'stopped'; connectedSince: string | null; reconnects: number; lastError: string | null };

/** A Bolt receiver that can say how it is connected (for /healthz?details=1). */
export interface SlackReceiver extends Receiver {
  readonly mode: SlackReceiverStatus['mode'];
  status(): SlackReceiverStatus;
}

export interface Delivery {
  body: Record<string, unknown>;
  retryNum?: number | undefined;
  retryReason?: string | undefined;
}

/**
 * Hands one delivery from Slack to Bolt and resolves with what to acknowledge it with: what
 * the listener passed to ack() (the inline errors of a modal), or nothing when the listener
 * failed, returned without acknowledging, or did not acknowledge within ACK_DEADLINE_MS.
 * Both receivers go through here, so an HTTP request and a Socket Mode envelope are
 * acknowledged by the same rule.
 */
export async function deliverToBolt(app: App, delivery: Delivery, log: Logger): Promise<unknown> {
  let settle: (value: unknown) => void = () => {};
  const acknowledged = new Promise<unknown>((resolve) => { settle = resolve; });
  let acked = false;
  const event: ReceiverEvent = {
    body: delivery.body,
    retryNum: delivery.retryNum,
    retryReason: delivery.retryReason,
    customProperties: {},
    ack: async (response?: unknown) => {
      if (acked) return;
      acked = true;
      settle(response ?? '');
    },
  };
  const timer = setTimeout(() => settle(''), ACK_DEADLINE_MS);
  // Once the listeners returned nobody can ack any more (Bolt acks events itself): answer with nothing.
  app.processEvent(event).then(() => settle(''), (error: unknown) => {
    log.error({ err: error instanceof Error ? error.message : String(error) }, 'Slack listener failed');
    settle('');
  });
  const response = await acknowledged;
  clearTimeout(timer);
  return response;
}

type Parsed = { kind: 'challenge'; challenge: string } | { kind: 'event'; body: Record<string, unknown> } | { kind: 'bad'; reason: string };

function parseBody(raw: string, contentType: string): Parsed {
  try {
    if (contentType.includes('application/json')) {
      const body = JSON.parse(raw) as Record<string, unknown>;
      if (body.type === 'url_verification' && typeof body.challenge === 'string') return { kind: 'challenge', challenge: body.challenge };
      return { kind: 'event', body };
    }
    const form = new URLSearchParams(raw);
    const payload = form.get('payload');
    if (payload !== null) return { kind: 'event', body: JSON.parse(payload) as Record<string, unknown> };
    return { kind: 'event', body: Object.fromEntries(form.entries()) };
  } catch {
    return { kind: 'bad', reason: 'unparseable body' };
  }
}

/** `POST /slack/events` with its body as the raw text Slack sent, whatever its content type. */
export function mountSlackEvents(server: FastifyInstance, handle: (raw: string, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void {
  server.register(async (scope) => {
    // Signatures cover the exact bytes Slack sent, so bodies on this route stay raw.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post(SLACK_EVENTS_PATH, async (request, reply) => handle(String(request.body ?? ''), request, reply));
  });
}

/**
 * Bolt's receiver on Latch's own fastify server: one URL for commands, interactivity and
 * events. The signature is checked first and in one place; nothing reaches Bolt unverified.
 */
export class FastifySlackReceiver implements SlackReceiver {
  readonly mode = 'http';
  private app: App | null = null;

  constructor(private readonly options: { server: FastifyInstance; signingSecret: string; log: Logger; now?: () => number }) {
    mountSlackEvents(options.server, (raw, request, reply) => this.handle(raw, request.headers, reply));
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  status(): SlackReceiverStatus {
    return { mode: 'http', path: SLACK_EVENTS_PATH };
  }

  private async handle(raw: string, headers: Record<string, string | string[] | undefined>, reply: FastifyReply): Promise<unknown> {
    const header = (name: string): string | undefined => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const checked = verifySlackSignature(raw, header('x-slack-request-timestamp'), header('x-slack-signature'), this.options.signingSecret, (this.options.now ?? Date.now)());
    if (!checked.ok) {
      this.options.log.warn({ reason: checked.reason }, 'refused a Slack request with a bad signature');
      return reply.code(401).send({ error: 'invalid signature' });
    }
    const parsed = parseBody(raw, header('content-type') ?? '');
    if (parsed.kind === 'bad') return reply.code(400).send({ error: parsed.reason });
    if (parsed.kind === 'challenge') return reply.send({ challenge: parsed.challenge });
    if (!this.app) return reply.code(503).send({ error: 'not ready' });

    const retryNum = header('x-slack-retry-num');
    const response = await deliverToBolt(this.app, { body: parsed.body, retryNum: retryNum !== undefined ? Number(retryNum) : undefined, retryReason: header('x-slack-retry-reason') }, this.options.log);
    if (response === '' || response === undefined) return reply.code(200).send('');
    return typeof response === 'string' ? reply.code(200).type('text/plain').send(response) : reply.code(200).send(response);
  }
}
