// `type: jsonl`: one JSON object per line, appended to a file or written to stdout.
import { open } from 'node:fs/promises';
import type { StreamedAuditEvent } from './event.js';
import type { SinkTransport } from './transport.js';

const BATCH = 500;

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
}

/**
 * The file is opened for each batch (a log rotation that moved it is followed at once) and
 * synced before the batch counts as delivered, so a power cut loses no acknowledged line.
 */
export function jsonlTransport(path: string): SinkTransport {
  return {
    batchSize: BATCH,
    async deliver(events: readonly StreamedAuditEvent[]) {
      const text = events.map((event) => `${JSON.stringify(event)}\n`).join('');
      if (path === 'stdout') return writeStdout(text);
      const handle = await open(path, 'a', 0o640);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
    async close() {},
  };
}
