// A loopback TCP proxy in front of a database, so a test can take the backend away and
// give it back without touching the real server: `down()` cuts every open connection and
// refuses new ones (connections are accepted and reset at once, as a firewall rule would).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  readonly isUp: boolean;
  /** Connections accepted since start (forwarded or reset). */
  readonly accepted: number;
  /** The most connections open at once since start or the last `resetPeak()`. */
  readonly peak: number;
  resetPeak(): void;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let isUp = true;
  let accepted = 0;
  let clients = 0;
  let peak = 0;
  const server: Server = createServer((client) => {
    accepted += 1;
    if (!isUp) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    clients += 1;
    peak = Math.max(peak, clients);
    let dropped = false;
    const drop = (): void => {
      if (!dropped) clients -= 1;
      dropped = true;
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    port: address.port,
    get isUp() { return isUp; },
    get accepted() { return accepted; },
    get peak() { return peak; },
    resetPeak() {
      peak = clients;
    },
    down() {
      isUp = false;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    up() {
      isUp = true;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
