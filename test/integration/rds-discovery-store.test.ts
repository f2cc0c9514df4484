import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyStoreAudit } from '../../storage/audit-verify.js';
import { openStore } from '../../storage/open-store.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { copySqliteToPostgres } from '../../storage/store-copy.js';
import type { RdsDiscoveryListing, Store } from '../../storage/store.js';
import { createPostgresDatabase, createTestStore, STORE_DIALECTS } from '../support/test-store.js';

// RDS discovery's listings on both store dialects: written whole with the audit event of what
// changed, in one transaction, read back as written (ordered by block and region), a region
// no longer listed gone with the next write, and carried over by `latch store copy`.

const T0 = 1_800_000_000_000;

const source = (instance: string, region: string): Record<string, unknown> => ({
  name: `rds-${instance}`, type: 'aws-rds', owner: 'owner@example.com',
  connection: { region, instanceId: instance, authType: 'iam-auth', roleArn: 'arn:aws:iam::123456789012:role/connect' },
  resources: [{ name: 'app', settings: { databases: ['app'] }, permissions: { read: { roles: ['app_read'] } } }],
});

const listings = (at: number): RdsDiscoveryListing[] => [
  {
    discovery: 'rds', region: 'eu-west-1', listedAt: at,
    instances: [{ identifier: 'orders-prod', region: 'eu-west-1', port: 5432, iamAuth: true, engine: 'postgres', tags: { 'latch-connector-id': 'eu-prod', auth_type: 'iam-auth' } }],
    problems: [{ region: 'eu-west-1', instance: 'search-prod', code: 'ACCESS_DENIED', message: 'search-prod (eu-west-1): rds:ListTagsForResource failed' }],
    offered: [source('orders-prod', 'eu-west-1')], retained: [source('cache-prod', 'eu-west-1')],
  },
  // A region that failed on the first pass: nothing listed, nothing offered.
  { discovery: 'rds', region: 'eu-central-1', listedAt: null, instances: null, problems: [{ region: 'eu-central-1', instance: null, code: 'REGION_FAILED', message: 'eu-central-1: timed out' }], offered: [], retained: [] },
  { discovery: 'analytics', region: 'us-east-1', listedAt: at - 5, instances: [], problems: [], offered: [], retained: [source('warehouse', 'us-east-1')] },
];

const discovered = (at: number) => ({ type: 'integrations.discovered', requestId: null, actor: 'latch', at, data: { discovery: 'rds', added: ['rds-orders-prod'] } });

describe.each(STORE_DIALECTS)('RDS discovery listings on the %s store', (dialect) => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  const open = async (): Promise<{ store: Store; another(): Promise<Store> }> => {
    const created = await createTestStore(dialect);
    cleanup = created.cleanup;
    return created;
  };

  it('keeps the listings a write replaced whole, with its audit event, and reads them back in block and region order', async () => {
    const { store, another } = await open();
    expect(await store.rdsDiscoveryListings()).toEqual([]);
    await store.replaceRdsDiscoveryListings(listings(T0), [discovered(T0)]);
    const expected = [...listings(T0)].sort((a, b) => (a.discovery + a.region < b.discovery + b.region ? -1 : 1));
    expect(expected.map((listing) => `${listing.discovery} ${listing.region}`)).toEqual(['analytics us-east-1', 'rds eu-central-1', 'rds eu-west-1']);
    // Another connection (a restarted Latch) reads what was written.
    const restarted = await another();
    expect(await restarted.rdsDiscoveryListings()).toEqual(expected);

    // A pass with nothing to tell writes its listing without an event; a block and a region no longer there are gone.
    const next = listings(T0 + 60_000).slice(0, 1);
    await store.replaceRdsDiscoveryListings(next, []);
    expect(await restarted.rdsDiscoveryListings()).toEqual(next);
    const events = (await store.auditEvents({})).filter((event) => event.type === 'integrations.discovered');
    expect(events.map((event) => event.at)).toEqual([T0]);
    await store.replaceRdsDiscoveryListings([], [{ ...discovered(T0 + 120_000), data: { discovery: null, removed: ['rds-orders-prod'] } }]);
    expect(await store.rdsDiscoveryListings()).toEqual([]);
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: true, count: 2 });
  });

  it('writes nothing of a replacement whose audit event cannot be appended', async () => {
    const { store } = await open();
    await store.replaceRdsDiscoveryListings(listings(T0), [discovered(T0)]);
    // A circular value cannot be serialised: the event fails, and the listings stay as they were.
    const data: Record<string, unknown> = {};
    data.self = data;
    await expect(store.replaceRdsDiscoveryListings([], [{ ...discovered(T0 + 1), data }])).rejects.toThrow();
    expect(await store.rdsDiscoveryListings()).toHaveLength(3);
    expect(await verifyStoreAudit(store)).toMatchObject({ ok: true, count: 1 });
  });
});

describe('latch store copy', () => {
  let dir = '';
  let drop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await drop?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves the RDS discovery listings to PostgreSQL', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-rds-copy-'));
    const path = join(dir, 'latch.db');
    const sqlite = new SqliteStore({ path });
    sqlite.migrate();
    await sqlite.replaceRdsDiscoveryListings(listings(T0), [discovered(T0)]);
    const written = await sqlite.rdsDiscoveryListings();
    await sqlite.close();
    const target = await createPostgresDatabase('latch_rds_copy');
    drop = target.drop;
    const report = await copySqliteToPostgres({ fromPath: path, toUrl: target.url });
    expect(report.rows.rds_discovery_listings).toBe(3);
    const copied = await openStore(target.url);
    try {
      expect(await copied.rdsDiscoveryListings()).toEqual(written);
    } finally {
      await copied.close();
    }
  });
});
