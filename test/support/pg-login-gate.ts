import net from 'node:net';
import { PG_HOST, PG_PORT } from './postgres.js';

// A PostgreSQL login gate in front of the local server: it asks every new connection for a
// password in clear text (as RDS IAM and Entra authentication do), records it, and lets the
// connection through to the real server only when `accept` says so. The local server trusts
// everyone, so without the gate nothing would show which password a connection carried.

export interface LoginGate {
  port: number;
  /** Every login attempt, in order: who, with which password, let in or not. */
  logins: { user: string; password: string; accepted: boolean }[];
  close(): Promise<void>;
}

const PROTOCOL_3 = 196608;
const AUTH_CLEARTEXT = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);

function startupParameters(message: Buffer): Record<string, string> {
  const parts = message.subarray(8).toString('utf8').split('\0');
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i]) params[parts[i] as string] = parts[i + 1] as string;
  return params;
}

function fatal(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

export async function startLoginGate(accept: (user: string, password: string) => boolean): Promise<LoginGate> {
  const logins: LoginGate['logins'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    client.on('close', () => sockets.delete(client));
    let buffered = Buffer.alloc(0);
    let startup: Buffer | null = null;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!startup) {
        if (buffered.length < 8 || buffered.length < buffered.readInt32BE(0)) return;
        const length = buffered.readInt32BE(0);
        startup = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        if (startup.readInt32BE(4) !== PROTOCOL_3) {
          client.end(fatal('08P01', 'the login gate speaks protocol 3.0 without TLS only'));
          return;
        }
        client.write(AUTH_CLEARTEXT);
      }
      // PasswordMessage: 'p', int32 length, the password as a C string.
      if (buffered.length < 5 || buffered.length < 1 + buffered.readInt32BE(1)) return;
      const password = buffered.subarray(5, 1 + buffered.readInt32BE(1)).toString('utf8').replace(/\0$/, '');
      const user = startupParameters(startup).user ?? '?';
      client.off('data', onData);
      client.pause();
      const accepted = accept(user, password);
      logins.push({ user, password, accepted });
      if (!accepted) {
        client.end(fatal('28P01', `PAM authentication failed for user "${user}"`));
        return;
      }
      const upstream = net.connect(PG_PORT, PG_HOST, () => {
        upstream.write(startup as Buffer);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the login gate has no port');
  return {
    port: address.port, logins,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
