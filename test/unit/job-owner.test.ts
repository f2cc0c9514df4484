import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isDeadLocalOwner, localOwnerId } from '../../jobs/job-owner.js';

describe('job claim owners', () => {
  const self = localOwnerId();

  it('names the host and process', () => {
    expect(self).toMatch(new RegExp(`^latch@${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}#${process.pid}#[0-9a-f]{8}$`));
    expect(localOwnerId()).not.toBe(self);
  });

  it('takes over a claim of a process on this host that has exited', () => {
    expect(isDeadLocalOwner(`latch@${hostname()}#4000001#0123abcd`, self, () => false)).toBe(true);
  });

  it('takes over a claim of an earlier process with our own pid (a restarted container)', () => {
    expect(isDeadLocalOwner(`latch@${hostname()}#${process.pid}#0123abcd`, self, () => true)).toBe(true);
  });

  it('leaves the claims of another Latch embedded in this process to it', () => {
    const sibling = localOwnerId();
    expect(isDeadLocalOwner(sibling, self, () => false)).toBe(false);
  });

  it('leaves its own claims, live processes, other hosts and unknown owners to their lease', () => {
    expect(isDeadLocalOwner(self, self, () => false)).toBe(false);
    expect(isDeadLocalOwner(`latch@${hostname()}#4000001#0123abcd`, self, () => true)).toBe(false);
    expect(isDeadLocalOwner('latch@elsewhere#4000001#0123abcd', self, () => false)).toBe(false);
    expect(isDeadLocalOwner('latch-5d0f1e7c-1111-4222-8333-944445555666', self, () => false)).toBe(false);
  });

  it('sees this process as alive by default', () => {
    expect(isDeadLocalOwner(`latch@${hostname()}#${process.ppid}#0123abcd`, self)).toBe(false);
  });
});
