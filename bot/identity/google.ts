// Google Workspace Directory API as a service account with domain-wide delegation: a JWT
// signed here (RS256, node:crypto) is exchanged for a token acting as the admin `subject`;
// users with `suspended`/`archived` and the manager from `relations`, and the members of
// each group the config names (by its e-mail), nested groups included. Pages follow nextPageToken.
import { createSign } from 'node:crypto';
import type { IdentitySource } from '../../config/schema.js';
import type { SourceGroup, SourcePerson, SourceSnapshot } from '../../core/identity.js';
import { callSource, isRecord, itemsOf, SourceError, stringOf, type CallOptions } from './http.js';
import type { SourceReader } from './reader.js';

type GoogleSource = Extract<IdentitySource, { type: 'google' }>;

export const GOOGLE_SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.user.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.member.readonly',
];

const base64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** The signed assertion of the JWT bearer grant (RFC 7523). */
export function serviceAccountAssertion(key: { client_email: string; private_key: string }, subject: string, audience: string, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ iss: key.client_email, sub: subject, scope: GOOGLE_SCOPES.join(' '), aud: audience, iat, exp: iat + 3600 }));
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key.private_key);
  return `${header}.${claims}.${base64url(signature)}`;
}

export function googleReader(source: GoogleSource, env: NodeJS.ProcessEnv, options: Pick<CallOptions, 'sleep'> & { now(): number }): SourceReader {
  const label = `identity source ${source.name ?? 'google'} (Google Workspace)`;

  async function token(): Promise<string> {
    const raw = env[source.serviceAccountKey.env];
    if (!raw) throw new SourceError(`${label}: environment variable ${source.serviceAccountKey.env} (serviceAccountKey) is not set`);
    let key: unknown;
    try {
      key = JSON.parse(raw) as unknown;
    } catch {
      throw new SourceError(`${label}: ${source.serviceAccountKey.env} is not a service account JSON key`);
    }
    if (!isRecord(key) || !stringOf(key.client_email) || !stringOf(key.private_key)) throw new SourceError(`${label}: ${source.serviceAccountKey.env} lacks client_email or private_key`);
    const assertion = serviceAccountAssertion({ client_email: String(key.client_email), private_key: String(key.private_key) }, source.subject, source.tokenUrl, options.now());
    const { body } = await callSource(label, source.tokenUrl, { method: 'POST', form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }, ...options });
    const accessToken = isRecord(body) ? stringOf(body.access_token) : null;
    if (!accessToken) throw new SourceError(`${label}: the token endpoint answered without an access_token`);
    return accessToken;
  }

  async function pages(bearer: string, first: string, key: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let pageToken: string | null = null;
    do {
      const url: string = pageToken ? `${first}&pageToken=${encodeURIComponent(pageToken)}` : first;
      const { body } = await callSource(label, url, { headers: { Authorization: `Bearer ${bearer}` }, ...options });
      // Google leaves the list out of a page with nothing in it.
      if (isRecord(body) && body[key] !== undefined) items.push(...itemsOf(label, body, key));
      else if (!isRecord(body)) throw new SourceError(`${label} answered a page that is not an object`);
      pageToken = isRecord(body) ? stringOf(body.nextPageToken) : null;
    } while (pageToken);
    return items;
  }

  return {
    async read(groupKeys: readonly string[]): Promise<SourceSnapshot> {
      const bearer = await token();
      const api = `${source.apiUrl}/admin/directory/v1`;
      const users = await pages(bearer, `${api}/users?customer=${encodeURIComponent(source.customer)}&maxResults=500`, 'users');
      const people: SourcePerson[] = users.flatMap((user) => {
        const id = stringOf(user.id);
        const email = stringOf(user.primaryEmail);
        if (!id || !email) return [];
        const relations = Array.isArray(user.relations) ? user.relations.filter(isRecord) : [];
        const manager = stringOf(relations.find((relation) => relation.type === 'manager')?.value);
        const name = isRecord(user.name) ? stringOf(user.name.fullName) : null;
        return [{ id, email: email.toLowerCase(), name, active: user.suspended !== true && user.archived !== true, manager: manager?.toLowerCase() ?? null }];
      });
      const groups: SourceGroup[] = [];
      for (const key of groupKeys) {
        const members = await pages(bearer, `${api}/groups/${encodeURIComponent(key)}/members?includeDerivedMembership=true&maxResults=200`, 'members');
        groups.push({ id: key.toLowerCase(), name: key, members: members.filter((member) => member.type === 'USER').flatMap((member) => stringOf(member.id) ?? []) });
      }
      return { people, groups, authoritative: true };
    },
  };
}
