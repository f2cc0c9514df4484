import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { metricsRegistry } from '../jobs/metrics.js';
import type { InFlight } from './in-flight.js';
import { runWithLogContext } from './log-context.js';

export interface ServerOptions {
  logger: FastifyBaseLogger;
  /** True once migrations ran and the config loaded; false again while shutting down. */
  ready(): boolean;
  /** False once shutdown began: chat requests are then refused (503) so none is half-done at exit. */
  accepting?(): boolean;
  /** Counts the requests being answered, so shutdown can wait for them. */
  inFlight?: InFlight;
  /** The integrations' health, for `/healthz?details=1`. */
  details?(): Promise<unknown>;
  /** The on-call schedules as Latch sees them (fresh, stale, unavailable), for `/healthz?details=1`. */
  oncall?(): Promise<unknown[]>;
  /** Each identity source's last successful sync, for `/healthz?details=1`. */
  identitySources?(): Promise<unknown[]>;
  /** Each audit sink's state and lag, for `/healthz?details=1`. */
  auditSinks?(): Promise<unknown[]>;
  /** How each chat platform is connected (Slack over HTTP or Socket Mode), for `/healthz?details=1`. */
  platforms?(): Record<string, unknown>;
}

// Probes and scrapes keep answering while Latch stops: the 503 from /healthz is how a load
// balancer learns to send chat traffic elsewhere.
const ALWAYS_ANSWERED = new Set(['/healthz', '/metrics']);

/** The HTTP surface. Chat adapters mount their routes on it. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: options.logger, bodyLimit: 1024 * 1024 });
  const finish = new WeakMap<FastifyRequest, () => void>();
  // Everything this request sets off, down to the chat work after the acknowledgement, logs with its reqId.
  app.addHook('onRequest', (request, _reply, done) => runWithLogContext({ reqId: request.id }, done));
  app.addHook('onRequest', async (request, reply) => {
    if (ALWAYS_ANSWERED.has(request.url.split('?')[0] ?? '')) return;
    if (options.accepting && !options.accepting()) {
      // Slack retries events and people retry commands; whichever Latch answers next does the work.
      return reply.code(503).header('connection', 'close').header('retry-after', '5').send({ error: 'Latch is restarting; try again in a moment' });
    }
    if (options.inFlight) finish.set(request, options.inFlight.begin());
  });
  const done = async (request: FastifyRequest): Promise<void> => {
    finish.get(request)?.();
  };
  app.addHook('onResponse', done);
  app.addHook('onRequestAbort', done);

  // Probes and scrapes come every few seconds; they are not worth a log line each.
  app.get<{ Querystring: { details?: string } }>('/healthz', { logLevel: 'warn' }, async (request, reply) => {
    if (!options.ready()) return reply.code(503).send({ status: options.accepting?.() === false ? 'stopping' : 'starting' });
    // Readiness does not depend on backends (one broken database must not take chat down); details say how they are.
    if (request.query.details === '1' && options.details) {
      const schedules = options.oncall ? await options.oncall() : [];
      const auditSinks = options.auditSinks ? await options.auditSinks() : [];
      const identitySources = options.identitySources ? await options.identitySources() : [];
      const platforms = options.platforms?.() ?? {};
      return { status: 'ok', integrations: await options.details(), ...(schedules.length > 0 ? { schedules } : {}), ...(auditSinks.length > 0 ? { auditSinks } : {}), ...(identitySources.length > 0 ? { identitySources } : {}), ...(Object.keys(platforms).length > 0 ? { platforms } : {}) };
    }
    return { status: 'ok' };
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    reply.header('content-type', metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });
  return app;
}
