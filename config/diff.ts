// What changed between two configs, by name, for the audit trail of a reload and for
// deciding which backend connections must be rebuilt.
import { isDeepStrictEqual } from 'node:util';
import type { LatchConfig } from './schema.js';

export interface NamedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ConfigChanges {
  flows: NamedChanges;
  integrations: NamedChanges;
  bundles: NamedChanges;
  groups: NamedChanges;
  /** Keys of `settings` whose value changed. */
  settings: string[];
  /** People whose identity entry (manager, ...) was added, removed or changed. */
  identities: NamedChanges;
  /** Audit sinks added, removed or with other settings (restarted from their cursor). */
  auditSinks: NamedChanges;
}

function named<T>(before: readonly T[], after: readonly T[], name: (item: T) => string): NamedChanges {
  const old = new Map(before.map((item) => [name(item), item]));
  const now = new Map(after.map((item) => [name(item), item]));
  return {
    added: [...now.keys()].filter((key) => !old.has(key)),
    removed: [...old.keys()].filter((key) => !now.has(key)),
    changed: [...now.keys()].filter((key) => old.has(key) && !isDeepStrictEqual(old.get(key), now.get(key))),
  };
}

export function configChanges(before: LatchConfig, after: LatchConfig): ConfigChanges {
  const settingKeys = new Set([...Object.keys(before.settings), ...Object.keys(after.settings)]) as Set<keyof LatchConfig['settings']>;
  return {
    flows: named(before.flows, after.flows, (flow) => flow.name),
    integrations: named(before.integrations, after.integrations, (integration) => integration.name),
    bundles: named(before.bundles, after.bundles, (bundle) => bundle.name),
    groups: named(before.groups, after.groups, (group) => group.name),
    settings: [...settingKeys].filter((key) => !isDeepStrictEqual(before.settings[key], after.settings[key])),
    identities: named(before.identities, after.identities, (identity) => identity.email),
    auditSinks: named(before.auditSinks, after.auditSinks, (sink) => sink.name),
  };
}

/** Integrations whose settings changed or that are gone: their backend instances must not be used again. */
export function staleIntegrations(changes: ConfigChanges): string[] {
  return [...changes.integrations.changed, ...changes.integrations.removed];
}

/** One line for the log: "flows +prod-admin ~staging; integrations ~orders; settings reminderInterval". */
export function describeChanges(changes: ConfigChanges): string {
  const parts: string[] = [];
  for (const key of ['flows', 'integrations', 'bundles', 'groups', 'identities', 'auditSinks'] as const) {
    // A config.loaded recorded by an older Latch has no entry for what it did not know (auditSinks).
    const entry = changes[key] as NamedChanges | undefined;
    if (!entry) continue;
    const { added, removed, changed } = entry;
    const words = [...added.map((name) => `+${name}`), ...removed.map((name) => `-${name}`), ...changed.map((name) => `~${name}`)];
    if (words.length > 0) parts.push(`${key} ${words.join(' ')}`);
  }
  if (changes.settings.length > 0) parts.push(`settings ${changes.settings.join(' ')}`);
  return parts.length > 0 ? parts.join('; ') : 'no changes';
}
