import { hostname } from 'node:os';
import type { AuditSink } from '../../config/schema.js';
import { jsonlTransport } from './jsonl.js';
import { splunkHecTransport } from './splunk-hec.js';
import { syslogTransport } from './syslog.js';
import type { SinkTransport } from './transport.js';
import { webhookTransport } from './webhook.js';

/** The transport a sink's config describes. Secrets are read from `env` at each delivery, never kept in the config. */
export function createSinkTransport(sink: AuditSink, env: NodeJS.ProcessEnv, now: () => number): SinkTransport {
  switch (sink.type) {
    case 'jsonl':
      return jsonlTransport(sink.path);
    case 'webhook':
      return webhookTransport({ url: sink.url, secretEnv: sink.secret.env, timeoutMs: sink.timeout, env, now });
    case 'syslog':
      return syslogTransport({
        host: sink.host, port: sink.port, facility: sink.facility, appName: sink.appName, timeoutMs: sink.timeout,
        ...(sink.tls !== undefined ? { tls: sink.tls } : {}), ...(sink.hostname !== undefined ? { hostname: sink.hostname } : {}),
      });
    case 'splunk-hec':
      return splunkHecTransport({
        url: sink.url, tokenEnv: sink.token.env, source: sink.source, sourcetype: sink.sourcetype, host: sink.host ?? hostname(),
        batchSize: sink.batchSize, timeoutMs: sink.timeout, env, ...(sink.index !== undefined ? { index: sink.index } : {}),
      });
  }
}

/** The environment variables a sink reads its secret from, so the logger can scrub their values. */
export function sinkSecretEnv(sink: AuditSink): string[] {
  if (sink.type === 'webhook') return [sink.secret.env];
  if (sink.type === 'splunk-hec') return [sink.token.env];
  return [];
}
