import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '../../handlers/context.js';
import { verifySlackSignature } from './verify.js';

export const SLACK_EVENTS_PATH = '/slack/events';
// Slack gives up on an answer after 3 s; Latch acknowledges well before that.
const ACK_DEADLINE_MS = 2_500;

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

/**
 * Bolt's receiver on Latch's own fastify server: one URL for commands, interactivity and
 * events. The signature is checked first and in one place; nothing reaches Bolt unverified.
 */
export class FastifySlackReceiver implements Receiver {
  private app: App | null = null;

  constructor(private readonly options: { server: FastifyInstance; signingSecret: string; log: Logger; now?: () => number }) {
    const { server } = options;
    server.register(async (scope) => {
      // Signatures cover the exact bytes Slack sent, so bodies on this route stay raw.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
      scope.post(SLACK_EVENTS_PATH, async (request, reply) => this.handle(String(request.body ?? ''), request.headers, reply));
    });
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

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

    let settle: (value: unknown) => void = () => {};
    const acknowledged = new Promise<unknown>((resolve) => { settle = resolve; });
    let acked = false;
    const retryNum = header('x-slack-retry-num');
    const event: ReceiverEvent = {
      body: parsed.body,
      retryNum: retryNum !== undefined ? Number(retryNum) : undefined,
      retryReason: header('x-slack-retry-reason'),
      customProperties: {},
      ack: async (response?: unknown) => {
        if (acked) return;
        acked = true;
        settle(response ?? '');
      },
    };
    const timer = setTimeout(() => settle(''), ACK_DEADLINE_MS);
    this.app.processEvent(event).catch((error: unknown) => {
      this.options.log.error({ err: error instanceof Error ? error.message : String(error) }, 'Slack listener failed');
      settle('');
    });
    const response = await acknowledged;
    clearTimeout(timer);
    if (response === '' || response === undefined) return reply.code(200).send('');
    return typeof response === 'string' ? reply.code(200).type('text/plain').send(response) : reply.code(200).send(response);
  }
}
