// The identities table as the binding contract: first sight binds, the bound e-mail never
// moves by itself, a stop lasts until a rebind, and a database from before bindings
// keeps every account bound to the e-mail it had.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { Store } from '../../storage/store.js';
import { createTestStore, STORE_DIALECTS } from '../support/test-store.js';

const MIGRATIONS = resolve(import.meta.dirname, '../../storage/sqlite/migrations');
const T0 = 1_800_000_000_000;

let dir = '';
let store: Store;
let closeStore: () => Promise<void> = async () => {};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'latch-identities-'));
});
afterEach(async () => {
  await closeStore();
  closeStore = async () => {};
  rmSync(dir, { recursive: true, force: true });
});

const sight = (user: string, email: string, at = T0, extra: { exclusive?: boolean; address?: string; chatId?: string } = {}) =>
  store.observeIdentity({ platform: 'slack', platformUserId: user, emails: [email], at, ...extra });

const types = async (): Promise<string[]> => (await store.auditEvents({})).map((event) => event.type);

describe.each(STORE_DIALECTS)('identity bindings (%s store)', (dialect) => {
  beforeEach(async () => {
    const made = await createTestStore(dialect);
    store = made.store;
    closeStore = made.cleanup;
  });

  it('binds on first sight without an audit event, and confirms the same e-mail after', async () => {
    expect(await sight('U1', 'Alice@Example.com')).toMatchObject({ outcome: 'bound', binding: { email: 'alice@example.com', state: 'bound', boundAt: T0, boundBy: 'latch', checkedAt: T0 } });
    expect(await sight('U1', 'alice@example.com', T0 + 5)).toMatchObject({ outcome: 'confirmed', binding: { checkedAt: T0 + 5, boundAt: T0 } });
    expect(await types()).toEqual([]);
    expect(await store.platformIdsFor('alice@example.com')).toMatchObject([{ platform: 'slack', platformUserId: 'U1' }]);
  });

  it('keeps the bound e-mail when the platform reports another, stops the account and audits it once', async () => {
    await sight('U1', 'mia@example.com');
    expect(await sight('U1', 'lead@example.com', T0 + 1)).toMatchObject({ outcome: 'email_changed', binding: { email: 'mia@example.com', state: 'email_changed', reportedEmail: 'lead@example.com' } });
    expect(await sight('U1', 'lead@example.com', T0 + 2)).toMatchObject({ outcome: 'still_stopped' });
    // Changing back does not lift the stop by itself: the admins were told, an admin decides.
    expect(await sight('U1', 'mia@example.com', T0 + 3)).toMatchObject({ outcome: 'email_changed', binding: { state: 'email_changed', reportedEmail: 'mia@example.com' } });
    const audit = await store.auditEvents({});
    expect(audit.map((event) => event.type)).toEqual(['identity.mismatch', 'identity.mismatch']);
    expect(audit[0]).toMatchObject({ actor: 'latch', requestId: null, data: { platform: 'slack', user: 'U1', reason: 'email_changed', boundEmail: 'mia@example.com', reportedEmail: 'lead@example.com' } });
    // A stopped account is reached for nobody: neither under its old nor its new e-mail.
    expect(await store.platformIdsFor('mia@example.com')).toEqual([]);
    expect(await store.platformIdsFor('lead@example.com')).toEqual([]);
  });

  it('a rebind binds to the new e-mail, lifts the stop, and is audited with who ran it', async () => {
    await sight('U1', 'alice@example.com');
    await sight('U1', 'alice.new@example.com', T0 + 1);
    const { before, binding } = await store.rebindIdentity({ platform: 'slack', platformUserId: 'U1', email: 'Alice.New@example.com', at: T0 + 2, by: 'ops@example.com' });
    expect(before).toMatchObject({ email: 'alice@example.com', state: 'email_changed' });
    expect(binding).toMatchObject({ email: 'alice.new@example.com', state: 'bound', reportedEmail: null, boundBy: 'ops@example.com', boundAt: T0 + 2 });
    expect(await sight('U1', 'alice.new@example.com', T0 + 3)).toMatchObject({ outcome: 'confirmed' });
    expect((await store.auditEvents({})).at(-1)).toMatchObject({
      type: 'identity.rebound', actor: 'ops@example.com',
      data: { platform: 'slack', user: 'U1', email: 'alice.new@example.com', previousEmail: 'alice@example.com', previousState: 'email_changed', reportedEmail: 'alice.new@example.com', by: 'ops@example.com' },
    });
  });

  it('an e-mail on two platforms is one person; a second account on an exclusive platform is stopped', async () => {
    await sight('ULEAD', 'lead@example.com', T0, { exclusive: true });
    expect(await store.observeIdentity({ platform: 'teams', platformUserId: 'aad-lead', emails: ['lead@example.com'], at: T0 })).toMatchObject({ outcome: 'bound' });
    expect(await sight('UEVIL', 'lead@example.com', T0 + 1, { exclusive: true })).toMatchObject({ outcome: 'duplicate_email', binding: { state: 'duplicate_email', email: 'lead@example.com' } });
    expect((await store.auditEvents({})).at(-1)).toMatchObject({ type: 'identity.mismatch', data: { reason: 'duplicate_email', user: 'UEVIL', boundTo: 'ULEAD' } });
    expect((await store.platformIdsFor('lead@example.com')).map((entry) => entry.platformUserId).sort()).toEqual(['ULEAD', 'aad-lead']);
    const list = await store.listIdentities();
    expect(list.map((entry) => [entry.platformUserId, entry.state])).toEqual([['UEVIL', 'duplicate_email'], ['ULEAD', 'bound'], ['aad-lead', 'bound']]);
  });

  it('an account may report several e-mails (Teams: e-mail and UPN); it is the same while one is the bound one', async () => {
    const teams = (emails: [string, ...string[]], at: number) => store.observeIdentity({ platform: 'teams', platformUserId: 'aad-bob', emails, at, chatId: '29:bob' });
    await teams(['bob@example.com', 'bob@corp.example.com'], T0);
    expect(await teams(['bob@corp.example.com'], T0 + 1)).toMatchObject({ outcome: 'email_changed' });
    await store.rebindIdentity({ platform: 'teams', platformUserId: 'aad-bob', email: 'bob@example.com', at: T0 + 2, by: 'ops' });
    expect(await teams(['robert@example.com', 'bob@example.com'], T0 + 3)).toMatchObject({ outcome: 'confirmed', binding: { chatId: '29:bob' } });
  });

  it('moves an account to a new key, never over another', async () => {
    await store.observeIdentity({ platform: 'teams', platformUserId: '29:bob', emails: ['bob@example.com'], at: T0 });
    expect(await store.rekeyIdentity('teams', '29:bob', 'aad-bob')).toBe(true);
    expect(await store.identityOf('teams', '29:bob')).toBeNull();
    expect(await store.identityOf('teams', 'aad-bob')).toMatchObject({ email: 'bob@example.com' });
    await store.observeIdentity({ platform: 'teams', platformUserId: '29:x', emails: ['x@example.com'], at: T0 });
    expect(await store.rekeyIdentity('teams', '29:x', 'aad-bob')).toBe(false);
    expect(await store.rekeyIdentity('teams', '29:nobody', 'aad-new')).toBe(false);
  });
});

describe('the identity binding migration', () => {
  it('applies to a database from before it: every account stays bound to its e-mail, Teams accounts keep their 29: id', async () => {
    // The migrations as they were before bindings: the same folder without its newer entries.
    const old = join(dir, 'old-migrations');
    cpSync(MIGRATIONS, old, { recursive: true });
    const journalFile = join(old, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    const at = journal.entries.findIndex((entry) => entry.tag.endsWith('_identity_binding'));
    expect(at).toBeGreaterThan(0);
    writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
    const file = join(dir, 'existing.db');
    const sqlite = new Database(file);
    migrate(drizzle(sqlite), { migrationsFolder: old });
    const insert = sqlite.prepare('INSERT INTO identities (platform, platform_user_id, email, address, updated_at) VALUES (?, ?, ?, ?, ?)');
    insert.run('slack', 'UALICE', 'alice@example.com', null, T0);
    insert.run('teams', '29:bob', 'bob@example.com', '{"conversation":{"id":"a:1"}}', T0 + 7);
    sqlite.close();

    const existing = new SqliteStore({ path: file });
    try {
      existing.migrate();
      expect(await existing.identityOf('slack', 'UALICE')).toMatchObject({ email: 'alice@example.com', state: 'bound', boundAt: T0, boundBy: 'latch', checkedAt: 0, chatId: null, reportedEmail: null });
      expect(await existing.identityOf('teams', '29:bob')).toMatchObject({ email: 'bob@example.com', state: 'bound', boundAt: T0 + 7, chatId: '29:bob', address: '{"conversation":{"id":"a:1"}}' });
      // The old binding decides: what Slack says next is compared with it.
      expect(await existing.observeIdentity({ platform: 'slack', platformUserId: 'UALICE', emails: ['eve@example.com'], at: T0 + 9 })).toMatchObject({ outcome: 'email_changed' });
    } finally {
      await existing.close();
    }
  });
});
