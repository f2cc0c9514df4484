import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { RespondArguments } from '@slack/bolt';

/** Answers the person through the response URL Slack gave with a command or a click. */
export type Respond = (message: RespondArguments) => Promise<void>;

// Kept-alive connections: at a few hundred clicks a second a new TLS connection per answer
// would cost more than the answer itself.
const agents = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) } as const;
const TIMEOUT_MS = 10_000;

/**
 * Posts to a response URL (it came inside the signed payload) with node's own HTTP client.
 * Bolt's `respond` goes through fetch, whose streams cost a click more CPU than all of
 * Latch's own work for it; the answer is the same JSON, and a status other than 2xx is an
 * error as it is for Bolt.
 */
export function responder(url: string): Respond {
  return (message) => new Promise<void>((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : null;
    if (!send) return reject(new Error(`the response URL is not http(s): ${target.protocol}`));
    const body = JSON.stringify(message);
    const request = send(target, {
      method: 'POST', agent: agents[target.protocol as keyof typeof agents], timeout: TIMEOUT_MS,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (response: IncomingMessage) => {
      // Read to the end, so the connection goes back to the agent for the next answer.
      response.resume();
      response.on('error', reject);
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`Failed to respond to the response_url: ${status} ${response.statusMessage ?? ''}`.trim()));
      });
    });
    request.on('timeout', () => request.destroy(new Error(`the response URL did not answer within ${TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
