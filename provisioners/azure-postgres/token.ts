import { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity';
import type { Integration } from '../../config/schema.js';
import type { AzureConnectionSettings } from './settings.js';

/** A token is replaced this long before it expires: it is checked only at login, but a login can take a while. */
const REFRESH_MARGIN_MS = 5 * 60_000;

export class AzureTokenError extends Error {
  override name = 'AzureTokenError';
}

/** A credential, and what the error messages may say about it. */
export interface ConnectorIdentity {
  credential: TokenCredential;
  /** "service principal, client id …, tenant …": which identity failed, in an error. */
  describe: string;
  /** The client secret: never in a message, even if the SDK were to echo it. */
  secret?: string;
  /** Where the secret comes from, for the "wrong secret" hint. */
  secretEnv?: string;
}

const KIND: Record<AzureConnectionSettings['auth'], string> = {
  'managed-identity': 'managed identity',
  'workload-identity': 'workload identity',
  'service-principal': 'service principal',
};

export function describeIdentity(connection: AzureConnectionSettings, clientId = connection.clientId, tenantId = connection.tenantId): string {
  return [KIND[connection.auth], clientId ? `client id ${clientId}` : '', tenantId ? `tenant ${tenantId}` : ''].filter(Boolean).join(', ');
}

/**
 * The credential the connection settings describe, reading only `env` (the provisioner's
 * environment), not process.env: the SDK would otherwise pick up AZURE_AUTHORITY_HOST on
 * its own. Built lazily: a missing env variable is a health problem, not a crash at start-up.
 */
export function buildCredential(integration: Integration, connection: AzureConnectionSettings, env: NodeJS.ProcessEnv): ConnectorIdentity {
  const { auth, clientId, tenantId } = connection;
  const authorityHost = connection.authorityHost ?? (env.AZURE_AUTHORITY_HOST || undefined);
  if (auth === 'managed-identity') {
    return { credential: clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential(), describe: describeIdentity(connection) };
  }
  if (auth === 'workload-identity') {
    const tokenFilePath = env.AZURE_FEDERATED_TOKEN_FILE;
    const client = clientId ?? env.AZURE_CLIENT_ID;
    const tenant = tenantId ?? env.AZURE_TENANT_ID;
    if (!tokenFilePath || !client || !tenant) {
      throw new AzureTokenError(`integration "${integration.name}": workload identity needs AZURE_FEDERATED_TOKEN_FILE, and clientId/tenantId in the connection or AZURE_CLIENT_ID/AZURE_TENANT_ID in the environment`);
    }
    return {
      credential: new WorkloadIdentityCredential({ tokenFilePath, clientId: client, tenantId: tenant, ...(authorityHost ? { authorityHost } : {}) }),
      describe: describeIdentity(connection, client, tenant),
    };
  }
  const { credentials } = integration;
  if (!('env' in credentials)) throw new AzureTokenError(`integration "${integration.name}": service-principal needs credentials: { env: VARIABLE } holding the client secret`);
  const secret = env[credentials.env];
  if (secret === undefined || secret === '') throw new AzureTokenError(`integration "${integration.name}": environment variable ${credentials.env} is not set`);
  // superRefine guarantees both for service-principal.
  return {
    credential: new ClientSecretCredential(tenantId ?? '', clientId ?? '', secret, authorityHost ? { authorityHost } : {}),
    describe: describeIdentity(connection), secret, secretEnv: credentials.env,
  };
}

/** What the common Entra refusals mean for this connector, keyed by their AADSTS code. */
function entraHint(message: string, identity: ConnectorIdentity): string | null {
  const code = /AADSTS(\d+)/.exec(message)?.[1];
  switch (code) {
    case '700016': return 'the app (client) id is not registered in that tenant: check clientId and tenantId';
    case '7000215': return `the client secret is not valid for this app: check ${identity.secretEnv ? `the value of ${identity.secretEnv}` : 'the secret'} (the secret's value, not its id)`;
    case '7000222': return `the client secret has expired: create a new one and put it in ${identity.secretEnv ?? 'the environment'}`;
    case '90002': return 'the tenant was not found: check tenantId';
    case '70021': return "no federated identity credential of the app or identity matches the service account token: check the credential's issuer (the cluster's OIDC issuer) and subject (system:serviceaccount:<namespace>:<name>)";
    case '700024': return 'the service account token in AZURE_FEDERATED_TOKEN_FILE has expired or is not yet valid: check that the projected token is refreshed';
    default: return null;
  }
}

/** One token at a time, shared by every new connection, replaced shortly before it expires. Never logged. */
export class TokenSource {
  private cached: { token: string; expiresOnTimestamp: number } | null = null;
  private pending: Promise<string> | null = null;
  private identity: ConnectorIdentity | null;

  /**
   * `label` names the integration; `make` builds the identity the first time a token is
   * needed (a ready one, e.g. a test's credential, can be passed instead).
   */
  constructor(private readonly label: string, private readonly scope: string, private readonly make: () => ConnectorIdentity, identity?: ConnectorIdentity) {
    this.identity = identity ?? null;
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
    try {
      this.identity ??= this.make();
    } catch (error) {
      if (error instanceof AzureTokenError) throw error;
      throw new AzureTokenError(`${this.label}: cannot set up its Entra credential: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const identity = this.identity;
    let result;
    try {
      result = await identity.credential.getToken(this.scope);
    } catch (error) {
      if (error instanceof AzureTokenError) throw error;
      const raw = error instanceof Error ? error.message : String(error);
      const leaked = identity.secret !== undefined && raw.includes(identity.secret);
      const text = leaked ? raw.replaceAll(identity.secret ?? '', '[redacted]') : raw;
      const hint = entraHint(text, identity);
      // The SDK's error stays attached for its stack, unless it carries the secret.
      throw new AzureTokenError(`${this.label} (${identity.describe}): could not obtain an Entra token for ${this.scope}${hint ? `: ${hint}` : ''} (${text})`, leaked ? {} : { cause: error });
    }
    if (!result?.token) throw new AzureTokenError(`${this.label} (${identity.describe}): the credential returned no token for ${this.scope}`);
    // The token's own expiry, not an assumed lifetime: Entra may hand out shorter ones.
    this.cached = { token: result.token, expiresOnTimestamp: result.expiresOnTimestamp };
    return result.token;
  }
}
