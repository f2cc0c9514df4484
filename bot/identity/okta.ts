// Okta's Users and Groups API with an API token or a service app (okta-auth.ts): every user with its status (the
// default list leaves out DEPROVISIONED users, who then count as gone), and the members of
// each group the config names. Pages follow `Link: <...>; rel="next"`.
import type { IdentitySource } from '../../config/schema.js';
import type { SourceGroup, SourcePerson, SourceSnapshot } from '../../core/identity.js';
import { callSource, isRecord, itemsOf, stringOf, type CallOptions } from './http.js';
import { oktaAuthorization } from './okta-auth.js';
import { managerResolver, type SourceReader } from './reader.js';

type OktaSource = Extract<IdentitySource, { type: 'okta' }>;

/** Statuses of an account its owner can no longer use. */
const INACTIVE = new Set(['SUSPENDED', 'DEPROVISIONED']);

/** The rel="next" target of an RFC 8288 Link header. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (match?.[1]) return match[1];
  }
  return null;
}

export function oktaReader(source: OktaSource, env: NodeJS.ProcessEnv, options: Pick<CallOptions, 'sleep'> & { now?: () => number } = {}): SourceReader {
  const label = `identity source ${source.name ?? 'okta'} (Okta)`;
  const authorization = oktaAuthorization(source, env, label, options);

  async function pages(first: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (let url: string | null = first; url;) {
      const { body, headers } = await callSource(label, url, { headers: { Authorization: await authorization() }, ...options });
      items.push(...itemsOf(label, body, ''));
      url = nextLink(headers.get('link'));
    }
    return items;
  }

  return {
    async read(groupNames: readonly string[]): Promise<SourceSnapshot> {
      const users = await pages(`${source.url}/api/v1/users?limit=200`);
      const raw = users.flatMap((user) => {
        const id = stringOf(user.id);
        const profile = isRecord(user.profile) ? user.profile : {};
        const email = stringOf(profile.email) ?? stringOf(profile.login);
        if (!id || !email) return [];
        const name = [stringOf(profile.firstName), stringOf(profile.lastName)].filter(Boolean).join(' ') || null;
        return [{ id, email: email.toLowerCase(), aliases: [stringOf(profile.login) ?? email], name, status: stringOf(user.status) ?? '', managerRef: stringOf(profile[source.managerAttribute]) }];
      });
      const managerOf = managerResolver(raw);
      const people: SourcePerson[] = raw.map((user) => ({ id: user.id, email: user.email, name: user.name, active: !INACTIVE.has(user.status), manager: managerOf(user.managerRef) }));
      const groups: SourceGroup[] = [];
      for (const name of groupNames) {
        const found = await pages(`${source.url}/api/v1/groups?search=${encodeURIComponent(`profile.name eq "${name.replaceAll('"', '\\"')}"`)}`);
        const id = found[0] ? stringOf(found[0].id) : null;
        if (!id) continue;
        const members = await pages(`${source.url}/api/v1/groups/${encodeURIComponent(id)}/users?limit=200`);
        groups.push({ id, name, members: members.flatMap((member) => stringOf(member.id) ?? []) });
      }
      return { people, groups, authoritative: true };
    },
  };
}
