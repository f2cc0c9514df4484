import { AwsProvisionerError } from './errors.js';

// A console sign-in link for a role session, built with AWS's federation endpoint
// (getSigninToken, then login): the custom identity broker flow AWS documents. The link is a
// bearer credential for 15 minutes, so it travels with the other secrets, by DM only.

/** The federation endpoint of each partition. */
const FEDERATION: Record<string, string> = {
  aws: 'https://signin.aws.amazon.com/federation',
  'aws-cn': 'https://signin.amazonaws.cn/federation',
  'aws-us-gov': 'https://signin.amazonaws-us-gov.com/federation',
};

export interface ConsoleSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  durationSeconds: number;
  /**
   * AWS accepts SessionDuration only for sessions assumed with long-term IAM user keys;
   * for a chained session the console session simply lasts as long as the credentials.
   */
  chained: boolean;
}

export async function consoleSignInUrl(partition: string, session: ConsoleSession, destination: string, issuer: string, fetcher: typeof fetch = fetch): Promise<string> {
  const endpoint = FEDERATION[partition] ?? FEDERATION.aws ?? '';
  const query = new URLSearchParams({ Action: 'getSigninToken' });
  if (!session.chained) query.set('SessionDuration', String(Math.min(43_200, Math.max(900, session.durationSeconds))));
  query.set('Session', JSON.stringify({ sessionId: session.accessKeyId, sessionKey: session.secretAccessKey, sessionToken: session.sessionToken }));
  let token: unknown;
  try {
    const response = await fetcher(`${endpoint}?${query.toString()}`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    token = ((await response.json()) as { SigninToken?: unknown }).SigninToken;
  } catch (error) {
    throw new AwsProvisionerError(`the AWS federation endpoint ${endpoint} gave no sign-in token (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof token !== 'string' || token.length === 0) throw new AwsProvisionerError(`the AWS federation endpoint ${endpoint} gave no sign-in token`);
  const login = new URLSearchParams({ Action: 'login', Issuer: issuer, Destination: destination, SigninToken: token });
  return `${endpoint}?${login.toString()}`;
}
