// Microsoft Entra ID through Microsoft Graph: users (accountEnabled, manager expanded in the
// same pages), and for each group the config names, its transitive user members. Pages
// follow @odata.nextLink; 429 waits out Retry-After (http.ts).
import { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity';
import type { IdentitySource } from '../../config/schema.js';
import type { SourceGroup, SourcePerson, SourceSnapshot } from '../../core/identity.js';
import { callSource, isRecord, itemsOf, SourceError, stringOf, type CallOptions } from './http.js';
import type { SourceReader } from './reader.js';

type EntraSource = Extract<IdentitySource, { type: 'entra' }>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A client secret when the config names one, else workload identity when a federated token file is there, else a managed identity. */
export function entraCredential(source: EntraSource, env: NodeJS.ProcessEnv): TokenCredential {
  if (source.clientSecret) {
    const secret = env[source.clientSecret.env];
    if (!secret) throw new SourceError(`identity source ${source.name ?? 'entra'}: environment variable ${source.clientSecret.env} (clientSecret) is not set`);
    return new ClientSecretCredential(source.tenantId, source.clientId ?? '', secret, source.authorityHost ? { authorityHost: source.authorityHost } : {});
  }
  const tokenFilePath = source.federatedTokenFile ?? env.AZURE_FEDERATED_TOKEN_FILE;
  if (tokenFilePath) {
    // The workload identity webhook sets AZURE_CLIENT_ID beside the token file; the config's clientId wins.
    const clientId = source.clientId ?? env.AZURE_CLIENT_ID;
    if (!clientId) throw new SourceError(`identity source ${source.name ?? 'entra'}: workload identity needs the app's clientId (in the config, or AZURE_CLIENT_ID)`);
    return new WorkloadIdentityCredential({ tenantId: source.tenantId, clientId, tokenFilePath, ...(source.authorityHost ? { authorityHost: source.authorityHost } : {}) });
  }
  return source.clientId ? new ManagedIdentityCredential({ clientId: source.clientId }) : new ManagedIdentityCredential();
}

export function entraReader(source: EntraSource, credential: TokenCredential, options: Pick<CallOptions, 'sleep'> = {}): SourceReader {
  const label = `identity source ${source.name ?? 'entra'} (Microsoft Graph)`;
  const scope = `${new URL(source.graphUrl).origin}/.default`;
  const token = async (): Promise<string> => {
    try {
      const answer = await credential.getToken(scope);
      if (!answer?.token) throw new Error('no token');
      return answer.token;
    } catch (error) {
      throw new SourceError(`${label}: no Graph token: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  };

  async function pages(first: string): Promise<Record<string, unknown>[]> {
    const bearer = await token();
    const items: Record<string, unknown>[] = [];
    for (let url: string | null = first; url;) {
      const { body } = await callSource(label, url, { headers: { Authorization: `Bearer ${bearer}`, ConsistencyLevel: 'eventual' }, ...options });
      items.push(...itemsOf(label, body, 'value'));
      url = isRecord(body) ? stringOf(body['@odata.nextLink']) : null;
    }
    return items;
  }

  return {
    async read(groupNames: readonly string[]): Promise<SourceSnapshot> {
      const users = await pages(`${source.graphUrl}/users?$select=id,displayName,mail,userPrincipalName,accountEnabled&$expand=manager($select=id,mail,userPrincipalName)&$top=999`);
      const people: SourcePerson[] = [];
      for (const user of users) {
        const id = stringOf(user.id);
        const email = stringOf(user.mail) ?? stringOf(user.userPrincipalName);
        if (!id || !email) continue;
        const manager = isRecord(user.manager) ? stringOf(user.manager.mail) ?? stringOf(user.manager.userPrincipalName) : null;
        people.push({ id, email: email.toLowerCase(), name: stringOf(user.displayName), active: user.accountEnabled === true, manager: manager?.toLowerCase() ?? null });
      }
      const groups: SourceGroup[] = [];
      for (const name of groupNames) {
        const found = GUID.test(name)
          ? [{ id: name, displayName: name }]
          : await pages(`${source.graphUrl}/groups?$filter=${encodeURIComponent(`displayName eq '${name.replaceAll("'", "''")}'`)}&$select=id,displayName`);
        const group = found[0];
        const id = group ? stringOf(group.id) : null;
        if (!id) continue; // not in the tenant (renamed, deleted): its config group simply has no members from it
        const members = await pages(`${source.graphUrl}/groups/${id}/transitiveMembers/microsoft.graph.user?$select=id&$top=999`);
        groups.push({ id, name, members: members.flatMap((member) => stringOf(member.id) ?? []) });
      }
      return { people, groups, authoritative: true };
    },
  };
}
