import { IAMClient } from '@aws-sdk/client-iam';
import { IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { KMSClient } from '@aws-sdk/client-kms';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describeAwsError } from './errors.js';
import type { AwsConnection } from './settings.js';

// The SDK clients of one integration. The connector's own credentials come from the SDK's
// standard provider chain (environment, shared config, web identity / IRSA, ECS task role,
// instance profile); nothing here reads a key from the config. With `connection.via` every
// client works as that role instead, assumed once and renewed before it runs out.

/** Credentials as the SDK takes them. */
export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
export type AwsCredentialIdentityProvider = () => Promise<AwsCredentialIdentity>;

export interface AwsClientOptions {
  /** Attempts per call, throttling and 5xx included (default 4: the SDK's standard backoff in between). */
  maxAttempts?: number;
  /** Credentials for the connector; default: the standard provider chain. */
  credentials?: AwsCredentialIdentityProvider;
  /** The clock session expiries are compared with (Latch's own, so tests and real time agree). */
  now?: () => number;
}

/** Renew the `via` role's session this long before it runs out. */
const RENEW_BEFORE_MS = 5 * 60_000;

export class AwsClients {
  private readonly cache = new Map<string, unknown>();
  private viaSession: Promise<AwsCredentialIdentity> | null = null;
  private identity: Promise<{ arn: string; account: string }> | null = null;
  private knownChained = false;

  constructor(private readonly integration: string, readonly connection: AwsConnection, private readonly options: AwsClientOptions = {}) {}

  /** STS as the connector itself (before any `via`). */
  connectorSts(): STSClient {
    return this.client('sts:connector', () => new STSClient({ ...this.base(this.connection.region), ...(this.options.credentials ? { credentials: this.options.credentials } : {}) }));
  }

  sts(): STSClient {
    return this.client('sts', () => new STSClient(this.config(this.connection.region)));
  }

  /** IAM is global; its endpoint signs for us-east-1 in the commercial partition. */
  iam(): IAMClient {
    return this.client('iam', () => new IAMClient(this.config('us-east-1')));
  }

  s3(region = this.connection.region): S3Client {
    return this.client(`s3:${region}`, () => new S3Client(this.config(region)));
  }

  kms(region = this.connection.region): KMSClient {
    return this.client(`kms:${region}`, () => new KMSClient(this.config(region)));
  }

  rds(region = this.connection.region): RDSClient {
    return this.client(`rds:${region}`, () => new RDSClient(this.config(region)));
  }

  secrets(region = this.connection.region): SecretsManagerClient {
    return this.client(`secrets:${region}`, () => new SecretsManagerClient(this.config(region)));
  }

  /** IAM Identity Center's admin API, in the instance's home region. */
  ssoAdmin(region = this.connection.region): SSOAdminClient {
    return this.client(`sso-admin:${region}`, () => new SSOAdminClient(this.config(region)));
  }

  /** The Identity Center identity store (users), in the instance's home region. */
  identityStore(region = this.connection.region): IdentitystoreClient {
    return this.client(`identitystore:${region}`, () => new IdentitystoreClient(this.config(region)));
  }

  /** Organizations is global; its endpoint signs for us-east-1 in the commercial partition. */
  organizations(): OrganizationsClient {
    return this.client('organizations', () => new OrganizationsClient(this.config('us-east-1')));
  }

  /** The credentials every client but connectorSts signs with (the `via` session, else the connector's). */
  credentials(): AwsCredentialIdentityProvider | undefined {
    if (!this.connection.via) return this.options.credentials;
    return () => this.viaCredentials();
  }

  /**
   * Whether sessions Latch issues are chained (assumed by a role session, not by IAM user
   * keys): AWS caps those at one hour. True with `via`, and when the connector itself runs
   * as a role (ECS task, instance profile, IRSA).
   */
  async chained(): Promise<boolean> {
    if (this.connection.via || this.knownChained) return true;
    return (await this.connectorIdentity()).arn.includes(':assumed-role/');
  }

  /** AWS said so (a role-chaining limit error): believe it from now on. */
  markChained(): void {
    this.knownChained = true;
  }

  /** Who the connector is to AWS (sts:GetCallerIdentity needs no permission). */
  connectorIdentity(): Promise<{ arn: string; account: string }> {
    this.identity ??= this.connectorSts().send(new GetCallerIdentityCommand({})).then(
      (answer) => ({ arn: answer.Arn ?? '', account: answer.Account ?? '' }),
      (error: unknown) => {
        this.identity = null;
        throw describeAwsError(error, `integration "${this.integration}": reading the connector's own identity (sts:GetCallerIdentity)`, this.connection.region);
      },
    );
    return this.identity;
  }

  destroy(): void {
    for (const client of this.cache.values()) (client as { destroy(): void }).destroy();
    this.cache.clear();
  }

  private async viaCredentials(): Promise<AwsCredentialIdentity> {
    const current = this.viaSession ? await this.viaSession.catch(() => null) : null;
    if (current?.expiration && current.expiration.getTime() - RENEW_BEFORE_MS > (this.options.now ?? Date.now)()) return current;
    const via = this.connection.via ?? '';
    this.viaSession = this.connectorSts().send(new AssumeRoleCommand({
      RoleArn: via, RoleSessionName: `latch-connector-${this.connection.instance}`.slice(0, 64),
      ...(this.connection.viaExternalId ? { ExternalId: this.connection.viaExternalId } : {}),
    })).then((answer) => {
      const credentials = answer.Credentials;
      if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) throw new Error('AssumeRole returned no credentials');
      return { accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, sessionToken: credentials.SessionToken, ...(credentials.Expiration ? { expiration: credentials.Expiration } : {}) };
    }, (error: unknown) => {
      throw describeAwsError(error, `integration "${this.integration}": assuming connection.via ${via}`, this.connection.region);
    });
    try {
      return await this.viaSession;
    } catch (error) {
      this.viaSession = null;
      throw error;
    }
  }

  private base(region: string): { region: string; maxAttempts: number } {
    return { region, maxAttempts: this.options.maxAttempts ?? 4 };
  }

  private config(region: string): { region: string; maxAttempts: number; credentials?: AwsCredentialIdentityProvider } {
    const credentials = this.credentials();
    return { ...this.base(region), ...(credentials ? { credentials } : {}) };
  }

  private client<T>(key: string, make: () => T): T {
    const existing = this.cache.get(key);
    if (existing) return existing as T;
    const created = make();
    this.cache.set(key, created);
    return created;
  }
}
