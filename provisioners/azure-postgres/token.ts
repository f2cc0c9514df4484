import { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity';
import type { Integration } from '../../config/schema.js';
import type { AzureConnectionSettings } from './settings.js';

/** A token is replaced this long before it expires: it is checked only at login, but a login can take a while. */
const REFRESH_MARGIN_MS = 5 * 60_000;

export class AzureTokenError extends Error {
  override name = 'AzureTokenError';
}

/** The credential the connection settings describe. Built lazily: a missing env variable is a health problem, not a crash at start-up. */
export function buildCredential(integration: Integration, connection: AzureConnectionSettings, env: NodeJS.ProcessEnv): TokenCredential {
  const { auth, clientId, tenantId } = connection;
  if (auth === 'managed-identity') return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  if (auth === 'workload-identity') {
    const tokenFilePath = env.AZURE_FEDERATED_TOKEN_FILE;
    const client = clientId ?? env.AZURE_CLIENT_ID;
    const tenant = tenantId ?? env.AZURE_TENANT_ID;
    if (!tokenFilePath || !client || !tenant) {
      throw new AzureTokenError(`integration "${integration.name}": workload identity needs AZURE_FEDERATED_TOKEN_FILE, and clientId/tenantId in the connection or AZURE_CLIENT_ID/AZURE_TENANT_ID in the environment`);
    }
    return new WorkloadIdentityCredential({ tokenFilePath, clientId: client, tenantId: tenant });
  }
  const { credentials } = integration;
  if (!('env' in credentials)) throw new AzureTokenError(`integration "${integration.name}": service-principal needs credentials: { env: VARIABLE } holding the client secret`);
  const secret = env[credentials.env];
  if (secret === undefined || secret === '') throw new AzureTokenError(`integration "${integration.name}": environment variable ${credentials.env} is not set`);
  // superRefine guarantees both for service-principal.
  return new ClientSecretCredential(tenantId ?? '', clientId ?? '', secret);
}

/** One token at a time, shared by every new connection, replaced shortly before it expires. Never logged. */
export class TokenSource {
  private cached: { token: string; expiresOnTimestamp: number } | null = null;
  private pending: Promise<string> | null = null;
  private credential: TokenCredential | null;

  constructor(private readonly describe: string, private readonly scope: string, private readonly make: () => TokenCredential, credential?: TokenCredential) {
    this.credential = credential ?? null;
  }

  async get(now = Date.now()): Promise<string> {
    const cached = this.cached;
    if (cached && now < cached.expiresOnTimestamp - REFRESH_MARGIN_MS) return cached.token;
    this.pending ??= this.fetch().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async fetch(): Promise<string> {
    let result;
    try {
      this.credential ??= this.make();
      result = await this.credential.getToken(this.scope);
    } catch (error) {
      if (error instanceof AzureTokenError) throw error;
      throw new AzureTokenError(`${this.describe}: could not obtain an Entra token for ${this.scope}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (!result?.token) throw new AzureTokenError(`${this.describe}: the credential returned no token for ${this.scope}`);
    this.cached = { token: result.token, expiresOnTimestamp: result.expiresOnTimestamp };
    return result.token;
  }
}
