import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { metricsRegistry } from '../jobs/metrics.js';

export interface ServerOptions {
  logger: FastifyBaseLogger;
  /** True once migrations ran and the config loaded; false again while shutting down. */
  ready(): boolean;
  /** The integrations' health, for `/healthz?details=1`. */
  details?(): Promise<unknown>;
}

/** The HTTP surface. Chat adapters mount their routes on it. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: options.logger, bodyLimit: 1024 * 1024 });
  // Probes and scrapes come every few seconds; they are not worth a log line each.
  app.get<{ Querystring: { details?: string } }>('/healthz', { logLevel: 'warn' }, async (request, reply) => {
    if (!options.ready()) return reply.code(503).send({ status: 'starting' });
    // Readiness does not depend on backends (one broken database must not take chat down); details say how they are.
    if (request.query.details === '1' && options.details) return { status: 'ok', integrations: await options.details() };
    return { status: 'ok' };
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    reply.header('content-type', metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });
  return app;
}
