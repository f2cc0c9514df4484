// What a backend offers (`listResources`) next to what the config names. Pure: the CLI
// (`latch integrations resources`) prints it, the health check fails on it. A resource or
// permission the config names and the backend does not know is a grant that would fail
// after someone approved it; what the backend offers beyond the config is only news.
import type { Integration } from '../config/schema.js';
import type { HealthCheck, ResourceOffer } from './provisioner.js';

export interface ResourceLine {
  resource: string;
  /** `both`: in the config and offered; `config-only`: a grant there would fail; `backend-only`: offered, not configured. */
  where: 'both' | 'config-only' | 'backend-only';
  /** Permissions both name. */
  permissions: string[];
  /** Permissions the config names and the backend does not know (all of them for `config-only`). */
  unknownPermissions: string[];
  /** Permissions the backend offers and the config does not (all of them for `backend-only`). */
  unconfiguredPermissions: string[];
  description?: string;
}

export interface ResourceComparison {
  /** Config resources first, in config order, then what only the backend offers. */
  lines: ResourceLine[];
  /** Whether every resource and permission the config names is offered. */
  ok: boolean;
}

export function compareResources(integration: Integration, offers: readonly ResourceOffer[]): ResourceComparison {
  const offered = new Map(offers.map((offer) => [offer.name, offer]));
  const lines: ResourceLine[] = [];
  for (const resource of integration.resources) {
    const configured = Object.keys(resource.permissions);
    const offer = offered.get(resource.name);
    if (!offer) {
      lines.push({ resource: resource.name, where: 'config-only', permissions: [], unknownPermissions: configured, unconfiguredPermissions: [] });
      continue;
    }
    const known = new Set(offer.permissions);
    lines.push({
      resource: resource.name,
      where: 'both',
      permissions: configured.filter((permission) => known.has(permission)),
      unknownPermissions: configured.filter((permission) => !known.has(permission)),
      unconfiguredPermissions: offer.permissions.filter((permission) => !configured.includes(permission)),
      ...(offer.description !== undefined ? { description: offer.description } : {}),
    });
  }
  const configuredNames = new Set(integration.resources.map((resource) => resource.name));
  for (const offer of offers) {
    if (configuredNames.has(offer.name)) continue;
    lines.push({
      resource: offer.name, where: 'backend-only', permissions: [], unknownPermissions: [], unconfiguredPermissions: offer.permissions,
      ...(offer.description !== undefined ? { description: offer.description } : {}),
    });
  }
  return { lines, ok: lines.every((line) => line.where !== 'config-only' && line.unknownPermissions.length === 0) };
}

/** What the config names and the backend does not know, as `resource` or `resource/permission`. */
export function unknownToBackend(comparison: ResourceComparison): string[] {
  return comparison.lines.flatMap((line) => (
    line.where === 'config-only' ? [line.resource] : line.unknownPermissions.map((permission) => `${line.resource}/${permission}`)
  ));
}

/**
 * The `resources` health check: fails when the config names something the backend does
 * not offer, since every grant there would fail after someone approved it.
 */
export function resourcesHealthCheck(integration: Integration, offers: readonly ResourceOffer[]): HealthCheck {
  const unknown = unknownToBackend(compareResources(integration, offers));
  if (unknown.length === 0) return { name: 'resources', ok: true, detail: `the backend offers every configured resource and permission (${integration.resources.length} resources)` };
  return { name: 'resources', ok: false, detail: `the config names what the backend does not offer, so a grant there would fail: ${unknown.join(', ')}` };
}

/**
 * The `resources` check of a protocol backend's health. `list-resources` is optional in the
 * protocol: a backend that refuses it (`ok: false`, as scripts answer an operation they do
 * not know) is not checked, and that is no failure. Any other failure to list is one.
 */
export async function resourcesCheck(integration: Integration, list: () => Promise<ResourceOffer[]>, isRefusal: (error: unknown) => boolean): Promise<HealthCheck> {
  try {
    return resourcesHealthCheck(integration, await list());
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isRefusal(error)) return { name: 'resources', ok: true, detail: `not checked: the backend does not list its resources (${message})` };
    return { name: 'resources', ok: false, detail: message };
  }
}
