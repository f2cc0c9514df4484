import type { Integration } from '../config/schema.js';
import type { Provisioner, ProvisionerFactory, RevokeInput } from './provisioner.js';
import { RevokeBatcher } from './revoke-batcher.js';

/**
 * Finds the provisioner for an integration. Backends register a factory per integration
 * type; a single integration can also be pinned to an instance (used by tests and by
 * backends that share a connection pool).
 */
export class ProvisionerRegistry {
  private readonly factories = new Map<string, ProvisionerFactory>();
  private readonly pinned = new Map<string, Provisioner>();
  private readonly instances = new Map<string, Provisioner>();
  private readonly batchers = new Map<string, RevokeBatcher>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  registerType(type: string, factory: ProvisionerFactory): this {
    this.factories.set(type, factory);
    return this;
  }

  use(integrationName: string, provisioner: Provisioner): this {
    this.pinned.set(integrationName, provisioner);
    return this;
  }

  supports(integration: Integration): boolean {
    return this.pinned.has(integration.name) || this.factories.has(integration.type);
  }

  for(integration: Integration): Provisioner {
    const pinned = this.pinned.get(integration.name);
    if (pinned) return pinned;
    const existing = this.instances.get(integration.name);
    if (existing) return existing;
    const factory = this.factories.get(integration.type);
    if (!factory) throw new Error(`integration "${integration.name}" has type ${integration.type}, which this build of Latch cannot provision yet`);
    const created = factory(integration, this.env);
    this.instances.set(integration.name, created);
    return created;
  }

  /** Revokes through the integration's batcher, so revokes that arrive together share a backend call. */
  revoke(input: RevokeInput): Promise<void> {
    const provisioner = this.for(input.integration);
    let batcher = this.batchers.get(input.integration.name);
    if (!batcher) {
      batcher = new RevokeBatcher(provisioner);
      this.batchers.set(input.integration.name, batcher);
    }
    return batcher.revoke(input);
  }

  async close(): Promise<void> {
    this.batchers.clear();
    const all = new Set([...this.instances.values(), ...this.pinned.values()]);
    this.instances.clear();
    await Promise.allSettled([...all].map((provisioner) => provisioner.close()));
  }
}
