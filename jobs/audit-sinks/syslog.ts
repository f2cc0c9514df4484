// `type: syslog`: RFC 5424 messages over TCP with octet-counting framing (RFC 6587
// section 3.4.1), optionally TLS (RFC 5425). Certificates are always checked.
import { readFileSync } from 'node:fs';
import { hostname as machineName } from 'node:os';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import type { StreamedAuditEvent } from './event.js';
import { SinkError, type SinkTransport } from './transport.js';

const FACILITY_CODES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11, ntp: 12, audit: 13, alert: 14, clock: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacility = keyof typeof FACILITY_CODES;

/** RFC 5612's enterprise number for documentation; an organisation with its own may filter on it. */
export const STRUCTURED_DATA_ID = 'latch@32473';
const SEVERITY_WARNING = 4;
const SEVERITY_INFO = 6;
const BATCH = 200;

export interface SyslogOptions {
  host: string;
  port: number;
  /** TLS with the system's CAs (`true`) plus a PEM file's (`ca`). */
  tls?: true | { ca?: string; servername?: string };
  facility: SyslogFacility;
  appName: string;
  hostname?: string;
  timeoutMs: number;
}

/** Events that mean something went wrong are warnings, so a SIEM rule can pick them by severity alone. */
function severityOf(type: string): number {
  return /(failed|refused|mismatch)$/.test(type) ? SEVERITY_WARNING : SEVERITY_INFO;
}

/** SD-PARAM values escape `"`, `\` and `]` (RFC 5424 section 6.3.3). */
function paramValue(value: string): string {
  return value.replace(/[\\"\]]/g, (char) => `\\${char}`);
}

/** A header field: printable US-ASCII without spaces, or the NILVALUE. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^!-~]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** One RFC 5424 message: the event id and the main fields as structured data, the whole event as JSON in MSG. */
export function syslogMessage(event: StreamedAuditEvent, options: Pick<SyslogOptions, 'facility' | 'appName' | 'hostname'>, procId: number = process.pid): string {
  const pri = FACILITY_CODES[options.facility] * 8 + severityOf(event.type);
  const params: [string, string][] = [['id', event.id], ['seq', String(event.seq)], ['type', event.type], ['actor', event.actor]];
  if (event.requestId) params.push(['requestId', event.requestId]);
  const data = `[${STRUCTURED_DATA_ID} ${params.map(([name, value]) => `${name}="${paramValue(value)}"`).join(' ')}]`;
  const header = [
    `<${pri}>1`, event.time, headerField(options.hostname ?? machineName(), 255), headerField(options.appName, 48), String(procId), headerField(event.type, 32),
  ].join(' ');
  return `${header} ${data} ${JSON.stringify(event)}`;
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export function octetFrame(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

/**
 * One connection, kept open between batches and made again after it drops. A batch counts
 * as delivered once the kernel took all of it; syslog has no acknowledgement beyond that.
 */
export function syslogTransport(options: SyslogOptions): SinkTransport {
  let socket: Socket | null = null;
  let closed = false;
  const where = `${options.tls ? 'tls' : 'tcp'}://${options.host}:${options.port}`;

  const connect = async (): Promise<Socket> => {
    if (closed) throw new SinkError('the syslog sink is closed');
    const tls = options.tls === true ? {} : options.tls;
    let fresh: Socket;
    if (tls) {
      let ca: (string | Buffer)[] | undefined;
      if (tls.ca) {
        try {
          ca = [readFileSync(tls.ca)];
        } catch (error) {
          throw new SinkError(`cannot read the CA file ${tls.ca}: ${(error as Error).message}`);
        }
      }
      const servername = tls.servername ?? (isIP(options.host) ? undefined : options.host);
      // Certificate checks are never turned off; `ca` adds to what is trusted.
      fresh = tlsConnect({ host: options.host, port: options.port, ...(servername ? { servername } : {}), ...(ca ? { ca: [...rootCertificates, ...ca] } : {}), rejectUnauthorized: true });
    } else {
      fresh = tcpConnect({ host: options.host, port: options.port });
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no connection within ${options.timeoutMs} ms`)), options.timeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        fresh.destroy();
        reject(new SinkError(`cannot reach ${where}: ${error.message}`));
      };
      fresh.once('error', fail);
      fresh.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        fresh.off('error', fail);
        resolve();
      });
    });
    fresh.setKeepAlive(true);
    fresh.resume(); // a receiver has nothing to say; what it sends is read and dropped
    fresh.on('error', () => fresh.destroy());
    fresh.on('close', () => {
      if (socket === fresh) socket = null;
    });
    socket = fresh;
    return fresh;
  };

  return {
    batchSize: BATCH,
    async deliver(events: readonly StreamedAuditEvent[]) {
      const target = socket && !socket.destroyed ? socket : await connect();
      const data = Buffer.concat(events.map((event) => octetFrame(syslogMessage(event, options))));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          target.destroy();
          reject(new SinkError(`${where} took no data for ${options.timeoutMs} ms`));
        }, options.timeoutMs);
        target.write(data, (error) => {
          clearTimeout(timer);
          if (!error) return resolve();
          target.destroy();
          reject(new SinkError(`lost the connection to ${where}: ${error.message}`));
        });
      });
    },
    async close() {
      closed = true;
      socket?.end();
      socket = null;
    },
  };
}
