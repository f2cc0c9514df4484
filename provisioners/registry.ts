import type { Integration } from '../config/schema.js';
import type { Provisioner, ProvisionerFactory } from './provisioner.js';

/**
 * Finds the provisioner for an integration. Backends register a factory per integration
 * type; a single integration can also be pinned to an instance (used by tests and by
 * backends that share a connection pool).
 */
export class ProvisionerRegistry {
  private readonly factories = new Map<string, ProvisionerFactory>();
  private readonly pinned = new Map<string, Provisioner>();
  private readonly instances = new Map<string, Provisioner>();

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

  async close(): Promise<void> {
    const all = new Set([...this.instances.values(), ...this.pinned.values()]);
    this.instances.clear();
    await Promise.allSettled([...all].map((provisioner) => provisioner.close()));
  }
}
