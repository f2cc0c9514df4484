import { describe, expect, it } from 'vitest';
import type { Integration, Resource } from '../../config/schema.js';
import type { Provisioner, RevokeInput } from '../../provisioners/provisioner.js';
import { RevokeBatcher } from '../../provisioners/revoke-batcher.js';

/** A backend that revokes one at a time, slowly, and remembers how many revokes it had at once. */
class OneAtATimeBackend implements Pick<Provisioner, 'type' | 'revoke'> {
  readonly type = 'command';
  running = 0;
  mostAtOnce = 0;
  readonly revoked: string[] = [];

  async revoke(input: RevokeInput): Promise<void> {
    this.running += 1;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.running -= 1;
    if (input.principal === 'broken') throw new Error('backend said no');
    this.revoked.push(input.principal);
  }
}

const input = (principal: string): RevokeInput => ({
  grantId: `g-${principal}`, requestId: `AR-${principal}`, grantee: 'alice@example.com', principal, permission: 'edit', permissionSettings: {},
  integration: { name: 'wiki', type: 'command' } as unknown as Integration, resource: { name: 'handbook' } as unknown as Resource,
} as RevokeInput);

describe('revoke batcher, backends without batches', () => {
  it('lets a mass expiry reach the backend a bounded number at a time, every revoke reporting its own result', async () => {
    const backend = new OneAtATimeBackend();
    const batcher = new RevokeBatcher(backend as unknown as Provisioner, { maxSingle: 4 });
    const principals = Array.from({ length: 40 }, (_, n) => (n === 17 ? 'broken' : `p${n}`));
    const results = await Promise.allSettled(principals.map((principal) => batcher.revoke(input(principal))));

    expect(backend.mostAtOnce).toBe(4);
    expect(backend.revoked).toHaveLength(39);
    expect(results.filter((result) => result.status === 'rejected')).toEqual([{ status: 'rejected', reason: new Error('backend said no') }]);
    // The slots are all given back: a later revoke runs at once.
    await batcher.revoke(input('late'));
    expect(backend.revoked.at(-1)).toBe('late');
    expect(backend.running).toBe(0);
  });
});
