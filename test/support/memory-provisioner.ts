import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import type { Integration } from '../../config/schema.js';
import type { GrantInput, GrantOutput, ManagedPrincipal, Provisioner, RevokeInput } from '../../provisioners/provisioner.js';

export interface JournalEntry {
  op: 'grant' | 'revoke' | 'extend';
  grantId: string;
  principal: string;
  /** grant: created or already there; revoke: removed or already gone. */
  effect: 'created' | 'existing' | 'removed' | 'absent' | 'updated';
  at: number;
  expiresAt?: number;
}

interface Held { principal: string; grantId: string; requestId: string; permission: string; expiresAt: number }

/**
 * A backend that lives in memory, used only by tests. It keeps the provisioner contract
 * (idempotent grant, revoke of what is gone succeeds) and, given a journal file, writes
 * every effect durably so a test can count effects across a killed process.
 */
export class MemoryProvisioner implements Provisioner {
  readonly type = 'memory';
  readonly held = new Map<string, Held>();
  readonly journal: JournalEntry[] = [];
  /** Makes the next N calls of an operation fail, to exercise retries. */
  readonly failures = { grant: 0, revoke: 0 };
  /** Fail every grant of this resource, for the "grant keeps failing" path. */
  failResources = new Set<string>();

  constructor(private readonly options: { journalFile?: string; delayMs?: number } = {}) {
    if (options.journalFile && existsSync(options.journalFile)) {
      for (const line of readFileSync(options.journalFile, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as JournalEntry & { requestId?: string; permission?: string };
        this.journal.push(entry);
        if (entry.op === 'grant') this.held.set(entry.grantId, { principal: entry.principal, grantId: entry.grantId, requestId: entry.requestId ?? '', permission: entry.permission ?? '', expiresAt: entry.expiresAt ?? 0 });
        if (entry.op === 'revoke') this.held.delete(entry.grantId);
      }
    }
  }

  private record(entry: JournalEntry, extra: Record<string, string> = {}): void {
    this.journal.push(entry);
    if (this.options.journalFile) {
      const fd = openSync(this.options.journalFile, 'a');
      appendFileSync(fd, `${JSON.stringify({ ...entry, ...extra })}\n`);
      fsyncSync(fd);
      closeSync(fd);
    }
  }

  private async pause(): Promise<void> {
    if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
  }

  async grant(input: GrantInput): Promise<GrantOutput> {
    await this.pause();
    if (this.failures.grant > 0) {
      this.failures.grant -= 1;
      throw new Error('backend refused the grant (injected)');
    }
    if (this.failResources.has(input.resource.name)) throw new Error(`backend has no database ${input.resource.name} (injected)`);
    const existing = this.held.get(input.grantId);
    this.held.set(input.grantId, { principal: input.principal, grantId: input.grantId, requestId: input.requestId, permission: input.permission, expiresAt: input.expiresAt });
    this.record({ op: 'grant', grantId: input.grantId, principal: input.principal, effect: existing ? 'existing' : 'created', at: Date.now(), expiresAt: input.expiresAt }, { requestId: input.requestId, permission: input.permission });
    return { principal: input.principal, secrets: { password: `pw-${input.grantId}-${this.journal.length}` }, details: { host: 'memory.local' } };
  }

  async revoke(input: RevokeInput): Promise<void> {
    await this.pause();
    if (this.failures.revoke > 0) {
      this.failures.revoke -= 1;
      throw new Error('backend refused the revoke (injected)');
    }
    const existing = this.held.delete(input.grantId);
    this.record({ op: 'revoke', grantId: input.grantId, principal: input.principal, effect: existing ? 'removed' : 'absent', at: Date.now() });
  }

  async extend(input: GrantInput): Promise<void> {
    const held = this.held.get(input.grantId);
    if (held) held.expiresAt = input.expiresAt;
    this.record({ op: 'extend', grantId: input.grantId, principal: input.principal, effect: 'updated', at: Date.now(), expiresAt: input.expiresAt });
  }

  /**
   * A new password for a held grant, every time a different one. A test sets this to
   * undefined for a backend that cannot issue credentials again.
   */
  resetCredentials?: (input: RevokeInput) => Promise<GrantOutput> = async (input) => {
    if (!this.held.has(input.grantId)) throw new Error(`${input.principal} holds nothing here; there is no password to reset`);
    this.resets += 1;
    return { principal: input.principal, secrets: { password: `pw-reset-${input.grantId}-${this.resets}` }, details: { host: 'memory.local' } };
  };

  /** How many times credentials were reset. */
  resets = 0;

  async check(input: RevokeInput): Promise<'present' | 'absent'> {
    return this.held.has(input.grantId) ? 'present' : 'absent';
  }

  async listManaged(_integration: Integration): Promise<ManagedPrincipal[]> {
    return [...this.held.values()].map((held) => ({ principal: held.principal, reference: held.requestId || null, expiresAt: held.expiresAt }));
  }

  async removeOrphan(_integration: Integration, principal: string): Promise<void> {
    for (const [grantId, held] of this.held) {
      if (held.principal === principal) {
        this.held.delete(grantId);
        this.record({ op: 'revoke', grantId, principal, effect: 'removed', at: Date.now() });
      }
    }
  }

  /** Puts a principal in the backend behind Latch's back (reference null = no Latch marker). */
  plant(principal: string, reference: string | null): void {
    this.held.set(`planted-${principal}`, { principal, grantId: `planted-${principal}`, requestId: reference ?? '', permission: 'read', expiresAt: 0 });
  }

  /** What checkHealth reports; a test sets a detail to make the backend look down. */
  down: string | null = null;

  async checkHealth(): Promise<{ ok: boolean; checks: { name: string; ok: boolean; detail?: string }[] }> {
    return this.down ? { ok: false, checks: [{ name: 'connect', ok: false, detail: this.down }] } : { ok: true, checks: [{ name: 'connect', ok: true }] };
  }

  async close(): Promise<void> {}

  revokedAt(grantId: string): number | null {
    return this.journal.find((entry) => entry.op === 'revoke' && entry.grantId === grantId)?.at ?? null;
  }
}
