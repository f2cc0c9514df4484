// `type: splunk-hec`: batches of events to Splunk's HTTP Event Collector, in its JSON event
// format (several event objects one after another in one body).
import type { StreamedAuditEvent } from './event.js';
import { endpointOf, postWithin } from './http-post.js';
import { secretFrom, SinkError, type SinkTransport } from './transport.js';

export const HEC_EVENT_PATH = '/services/collector/event';

export interface SplunkHecOptions {
  /** The collector's base URL; HEC_EVENT_PATH is added unless it is there already. */
  url: string;
  tokenEnv: string;
  index?: string;
  source: string;
  sourcetype: string;
  host: string;
  batchSize: number;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

export function hecEndpoint(base: string): string {
  const url = new URL(base);
  if (!url.pathname.endsWith(HEC_EVENT_PATH)) url.pathname = `${url.pathname.replace(/\/+$/, '')}${HEC_EVENT_PATH}`;
  return url.toString();
}

/** One HEC event: `time` in epoch seconds (milliseconds as the fraction), the audit event as `event`. */
export function hecEvent(event: StreamedAuditEvent, options: Pick<SplunkHecOptions, 'index' | 'source' | 'sourcetype' | 'host'>): Record<string, unknown> {
  return {
    time: event.at / 1000, host: options.host, source: options.source, sourcetype: options.sourcetype,
    ...(options.index ? { index: options.index } : {}), event,
  };
}

export function splunkHecTransport(options: SplunkHecOptions): SinkTransport {
  const endpoint = hecEndpoint(options.url);
  return {
    batchSize: options.batchSize,
    async deliver(events: readonly StreamedAuditEvent[]) {
      const token = secretFrom(options.env, options.tokenEnv);
      const body = events.map((event) => JSON.stringify(hecEvent(event, options))).join('\n');
      const answer = await postWithin(endpoint, body, {
        'content-type': 'application/json', 'user-agent': 'latch-audit-hec', authorization: `Splunk ${token}`,
      }, options.timeoutMs);
      // HEC says "Success" with code 0; a 200 with another code did not index the batch.
      let code: unknown = 0;
      try {
        code = answer.trim() === '' ? 0 : (JSON.parse(answer) as { code?: unknown }).code ?? 0;
      } catch {
        throw new SinkError(`${endpointOf(endpoint)} answered with a body that is not HEC's JSON`);
      }
      if (code !== 0) throw new SinkError(`${endpointOf(endpoint)} answered HEC code ${String(code)}`);
    },
    async close() {},
  };
}
