import { z } from 'zod';
import { DescribeDBInstancesCommand, ListTagsForResourceCommand, type DBInstance } from '@aws-sdk/client-rds';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import type { AwsClients } from './clients.js';
import { awsErrorMessage, isAccessDenied } from './errors.js';
import { toRdsInstance, type RdsInstance } from './rds-instance.js';
import { normaliseAuthType, RdsConnection, Region, SECRET_ARN, show } from './settings.js';

// Auto-discovery of RDS instances by their tags: every instance in the configured regions
// that is tagged for this connector becomes an aws-rds integration, built from a template
// (owner, resources, the connect role...). The tag keys follow the seed's model and can be
// renamed; the seed's own apono-* keys are accepted too, for people moving over. Values are
// exact text, except the auth type, whose several spellings mean the same two things. An
// instance tagged for another connector is someone else's, skipped and not reported; one
// without any connector tag is not tagged for Latch at all and ignored. Everything else
// that is wrong is reported per instance, and one bad instance never fails the sync.

export interface DiscoveryTagKeys {
  connectorId: string[];
  authType: string[];
  secret: string[];
  secretRegion: string[];
}

export const DEFAULT_TAG_KEYS: DiscoveryTagKeys = {
  connectorId: ['latch-connector-id', 'apono-connector-id'],
  authType: ['auth_type'],
  secret: ['latch-secret', 'apono-secret'],
  secretRegion: ['latch-secret-region', 'region'],
};

export interface DiscoveryOptions {
  /** This Latch's connector id: instances tagged with it are ours. */
  connectorId: string;
  regions: string[];
  /** What each instance becomes: everything but the instance's own connection keys. */
  template: { namePrefix?: string; owner: string; labels?: string[]; connection?: Record<string, string | number | boolean>; resources: unknown[]; accessDetails?: string };
  tagKeys?: Partial<DiscoveryTagKeys>;
}

export type DiscoveryProblemCode = 'TAG_MISSING' | 'TAG_INVALID' | 'ACCESS_DENIED' | 'IAM_AUTH_DISABLED' | 'UNSUPPORTED_ENGINE' | 'NOT_READY' | 'INVALID_INTEGRATION' | 'REGION_FAILED';

export interface DiscoveryProblem {
  region: string;
  /** The instance, or null for a whole region that could not be read. */
  instance: string | null;
  code: DiscoveryProblemCode;
  message: string;
}

export interface DiscoveryResult {
  integrations: Integration[];
  /** Each integration as it would be written in the config file (same order). */
  sources: Record<string, unknown>[];
  /** Instances tagged for another connector. */
  skipped: { region: string; instance: string; connectorId: string }[];
  problems: DiscoveryProblem[];
  at: number;
}

/** The first of `keys` the tags carry, with the key that held it. */
function tag(tags: Record<string, string>, keys: string[]): { key: string; value: string } | null {
  for (const key of keys) if (key in tags) return { key, value: tags[key] ?? '' };
  return null;
}

/** A Latch integration name for an instance (lower-case, at most 63 characters). */
export function integrationName(prefix: string, identifier: string): string {
  return `${prefix}${identifier.toLowerCase()}`.replace(/[^a-z0-9_.-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
}

/**
 * What one instance becomes: an integration, a skip (another connector's), nothing (not
 * tagged for Latch), or the problems that keep it out.
 */
export function classifyInstance(instance: RdsInstance, options: DiscoveryOptions): { integration: Integration; source: Record<string, unknown> } | { skipped: string } | { problems: DiscoveryProblem[] } | null {
  const keys = { ...DEFAULT_TAG_KEYS, ...options.tagKeys };
  const { tags, identifier, region } = instance;
  const problem = (code: DiscoveryProblemCode, message: string): DiscoveryProblem => ({ region, instance: identifier, code, message: `${identifier} (${region}): ${message}` });
  const connector = tag(tags, keys.connectorId);
  const secret = tag(tags, keys.secret);
  if (!connector) {
    // A secret tag alone says someone meant it for Latch and forgot the connector.
    return secret ? { problems: [problem('TAG_MISSING', `has ${secret.key} but no ${keys.connectorId[0] ?? 'connector id'} tag naming the connector`)] } : null;
  }
  if (connector.value !== options.connectorId) {
    if (connector.value.trim() === options.connectorId) return { problems: [problem('TAG_INVALID', `tag ${connector.key} is ${show(connector.value)}, with spaces around the connector id; tag values are exact text`)] };
    return { skipped: connector.value };
  }
  const problems: DiscoveryProblem[] = [];
  const auth = tag(tags, keys.authType);
  const authType = auth ? normaliseAuthType(auth.value) : null;
  if (!auth) problems.push(problem('TAG_MISSING', `has no ${keys.authType[0] ?? 'auth_type'} tag; tag it iam-auth or user-password`));
  else if (!authType) problems.push(problem('TAG_INVALID', `tag ${auth.key} is ${show(auth.value)}; expected iam-auth or user-password`));
  if (instance.engine === null) problems.push(problem('UNSUPPORTED_ENGINE', `runs ${instance.engineName}; Latch discovers RDS for PostgreSQL, MySQL and MariaDB`));
  if (instance.status === 'creating' || instance.status === 'deleting') problems.push(problem('NOT_READY', `is ${instance.status}`));

  let secretArn: string | null = null;
  if (authType === 'iam') {
    if (!instance.iamAuth) problems.push(problem('IAM_AUTH_DISABLED', `is tagged iam-auth but has IAM database authentication off (aws rds modify-db-instance --db-instance-identifier ${identifier} --enable-iam-database-authentication --apply-immediately)`));
    if (secret) problems.push(problem('TAG_INVALID', `is tagged iam-auth and also has ${secret.key}; one auth type per instance (remove the secret tag, or tag it user-password)`));
  } else if (authType === 'password') {
    if (!secret) problems.push(problem('TAG_MISSING', `is tagged user-password but has no ${keys.secret[0] ?? 'secret'} tag with the ARN of the connector's secret`));
    else {
      const match = SECRET_ARN.exec(secret.value);
      if (!match) problems.push(problem('TAG_INVALID', `tag ${secret.key} is ${show(secret.value)}, not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:123456789012:secret:NAME)`));
      else {
        secretArn = secret.value;
        const secretRegion = tag(tags, keys.secretRegion);
        if (secretRegion && secretRegion.value !== match[1]) problems.push(problem('TAG_INVALID', `tag ${secretRegion.key} is ${show(secretRegion.value)}, but the secret's ARN is in ${match[1] ?? '?'}`));
      }
    }
  }
  if (problems.length > 0) return { problems };

  const { template } = options;
  const candidate = {
    name: integrationName(template.namePrefix ?? 'rds-', identifier),
    type: 'aws-rds',
    owner: template.owner,
    ...(template.labels && template.labels.length > 0 ? { labels: template.labels } : {}),
    ...(template.accessDetails ? { accessDetails: template.accessDetails } : {}),
    connection: { ...template.connection, region, instanceId: identifier, authType: authType === 'iam' ? 'iam-auth' : 'user-password', ...(secretArn ? { secretArn } : {}) },
    resources: template.resources,
  };
  const parsed = IntegrationSchema.safeParse(candidate);
  if (!parsed.success) {
    return { problems: [problem('INVALID_INTEGRATION', `cannot become an integration: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`)] };
  }
  // The template's connection keys are checked as the aws-rds provisioner will check them, so a bad one is reported here, not at the first grant.
  const connection = RdsConnection.safeParse(parsed.data.connection);
  if (!connection.success) {
    return { problems: [problem('INVALID_INTEGRATION', `cannot become an integration: ${connection.error.issues.map((issue) => `connection.${issue.path.join('.')}: ${issue.message}`).join('; ')}`)] };
  }
  return { integration: parsed.data, source: candidate };
}

/** Every page of DescribeDBInstances in one region, with tags from ListTagsForResource where the answer has none. */
async function instancesIn(clients: AwsClients, region: string, problems: DiscoveryProblem[]): Promise<RdsInstance[]> {
  const found: RdsInstance[] = [];
  let marker: string | undefined;
  do {
    const page = await clients.rds(region).send(new DescribeDBInstancesCommand({ ...(marker ? { Marker: marker } : {}), MaxRecords: 100 }));
    for (const raw of page.DBInstances ?? []) {
      const instance = toRdsInstance(raw, region);
      if (typeof instance === 'string') {
        if ((raw.TagList ?? []).length > 0) problems.push({ region, instance: raw.DBInstanceIdentifier ?? null, code: 'NOT_READY', message: `${instance} (${region})` });
        continue;
      }
      if (raw.TagList === undefined) {
        const tags = await tagsOf(clients, raw, instance, problems);
        if (tags === null) continue;
        instance.tags = tags;
      }
      found.push(instance);
    }
    marker = page.Marker;
  } while (marker);
  return found;
}

async function tagsOf(clients: AwsClients, raw: DBInstance, instance: RdsInstance, problems: DiscoveryProblem[]): Promise<Record<string, string> | null> {
  try {
    const answer = await clients.rds(instance.region).send(new ListTagsForResourceCommand({ ResourceName: instance.arn }));
    return Object.fromEntries((answer.TagList ?? []).map((entry) => [entry.Key ?? '', entry.Value ?? '']));
  } catch (error) {
    const code = isAccessDenied(error) ? 'ACCESS_DENIED' : 'REGION_FAILED';
    problems.push({ region: instance.region, instance: raw.DBInstanceIdentifier ?? null, code, message: `${instance.identifier} (${instance.region}): rds:ListTagsForResource on ${instance.arn} failed: ${awsErrorMessage(error)}` });
    return null;
  }
}

/** What one region answered: its instances (tags included), or null when it could not be read. */
export interface RegionListing {
  region: string;
  instances: RdsInstance[] | null;
  /** Instances that could not be looked at (their tags unreadable, not yet an instance), and the region's own failure. */
  problems: DiscoveryProblem[];
}

/** Lists every configured region. Never throws for AWS's answers: they become problems. */
export async function listRdsInstances(clients: AwsClients, regions: readonly string[]): Promise<RegionListing[]> {
  const listings: RegionListing[] = [];
  for (const region of regions) {
    const problems: DiscoveryProblem[] = [];
    try {
      listings.push({ region, instances: await instancesIn(clients, region, problems), problems });
    } catch (error) {
      problems.push({
        region, instance: null, code: isAccessDenied(error) ? 'ACCESS_DENIED' : 'REGION_FAILED',
        message: `${region}: rds:DescribeDBInstances failed: ${awsErrorMessage(error)}`,
      });
      listings.push({ region, instances: null, problems });
    }
  }
  return listings;
}

/**
 * Turns listed instances into integrations (pure: the same listing with another template
 * gives that template's integrations, which is what a config reload needs).
 */
export function classifyInstances(listings: readonly { region: string; instances: readonly RdsInstance[] | null; problems: readonly DiscoveryProblem[] }[], options: DiscoveryOptions, at: number): DiscoveryResult {
  const result: DiscoveryResult = { integrations: [], sources: [], skipped: [], problems: [], at };
  for (const { region, instances, problems } of listings) {
    result.problems.push(...problems);
    for (const instance of instances ?? []) {
      const outcome = classifyInstance(instance, options);
      if (outcome === null) continue;
      if ('integration' in outcome) {
        result.integrations.push(outcome.integration);
        result.sources.push(outcome.source);
      }
      else if ('skipped' in outcome) result.skipped.push({ region, instance: instance.identifier, connectorId: outcome.skipped });
      else result.problems.push(...outcome.problems);
    }
  }
  const names = new Map<string, number>();
  for (const integration of result.integrations) names.set(integration.name, (names.get(integration.name) ?? 0) + 1);
  const clashing = new Set([...names].filter(([, count]) => count > 1).map(([name]) => name));
  if (clashing.size > 0) {
    // The same identifier in two regions: neither is offered until the template's prefix tells them apart.
    for (const integration of result.integrations.filter((candidate) => clashing.has(candidate.name))) {
      const region = String(integration.connection.region ?? '?');
      result.problems.push({ region, instance: String(integration.connection.instanceId ?? '?'), code: 'INVALID_INTEGRATION', message: `${String(integration.connection.instanceId)} (${region}): another region has an instance of the same name, so both would be integration ${integration.name}; use one discovery per region with its own namePrefix` });
    }
    result.sources = result.sources.filter((_source, index) => !clashing.has(result.integrations[index]?.name ?? ''));
    result.integrations = result.integrations.filter((integration) => !clashing.has(integration.name));
  }
  return result;
}

/** One discovery pass over every configured region. Never throws for AWS's answers: they become problems. */
export async function discoverRdsInstances(clients: AwsClients, options: DiscoveryOptions, now: () => number = Date.now): Promise<DiscoveryResult> {
  const at = now();
  return classifyInstances(await listRdsInstances(clients, options.regions), options, at);
}

/** A discovery file (`latch integrations discover-rds FILE`): the options, the template's keys at the top level. */
export const DiscoverySpec = z.strictObject({
  connectorId: z.string({ error: 'is required: this Latch\'s connector id, as the instances\' latch-connector-id tag says it' }).min(1),
  regions: z.array(Region).min(1, 'name at least one region'),
  namePrefix: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,30}$/, 'must be lower-case letters, digits, "_", "." or "-"').default('rds-'),
  owner: z.string({ error: 'is required: who owns the discovered integrations (e-mail or group:NAME)' }),
  accessDetails: z.string().max(2000).optional(),
  connection: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  resources: z.array(z.unknown()).min(1, 'say what each discovered instance offers: resources as for aws-rds'),
  tagKeys: z.strictObject({
    connectorId: z.array(z.string().min(1)).min(1).optional(),
    authType: z.array(z.string().min(1)).min(1).optional(),
    secret: z.array(z.string().min(1)).min(1).optional(),
    secretRegion: z.array(z.string().min(1)).min(1).optional(),
  }).optional(),
});
export type DiscoverySpec = z.output<typeof DiscoverySpec>;

export function discoveryOptions(spec: DiscoverySpec): DiscoveryOptions {
  const tagKeys = Object.fromEntries(Object.entries(spec.tagKeys ?? {}).filter(([, keys]) => keys !== undefined)) as Partial<DiscoveryTagKeys>;
  return {
    connectorId: spec.connectorId, regions: spec.regions, tagKeys,
    template: { namePrefix: spec.namePrefix, owner: spec.owner, connection: spec.connection, resources: spec.resources, ...(spec.accessDetails ? { accessDetails: spec.accessDetails } : {}) },
  };
}
