import type { GrantInput, GrantOutput, Provisioner, RevokeInput } from '../../provisioners/provisioner.js';
import { MemoryProvisioner } from './memory-provisioner.js';

/** A memory backend whose grants or revokes wait until the test lets them go, to look at what Latch does meanwhile. */
export class HeldProvisioner extends MemoryProvisioner implements Provisioner {
  private release: (() => void) | null = null;
  private readonly released = new Promise<void>((resolve) => { this.release = resolve; });
  /** Calls waiting, or let go, so far. */
  waiting = 0;

  constructor(private readonly holds: 'grant' | 'revoke') {
    super();
  }

  override async grant(input: GrantInput): Promise<GrantOutput> {
    if (this.holds === 'grant') await this.hold();
    return super.grant(input);
  }

  override async revoke(input: RevokeInput): Promise<void> {
    if (this.holds === 'revoke') await this.hold();
    return super.revoke(input);
  }

  letGo(): void {
    this.release?.();
  }

  private async hold(): Promise<void> {
    this.waiting += 1;
    await this.released;
  }
}
