import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/parse.js';
import { changesBetween, classifyPrivilege, iamActionLevel, rankPrincipals, usageOf, type FoundPrivilege, type ScannedPrincipal } from '../../core/discovery.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const options = { now: NOW, dormantAfterMs: 30 * DAY, sensitivity: { production: 3 }, integrationLabels: (name: string) => (name === 'prod-db' ? ['production'] : []) };

const privilege = (kind: FoundPrivilege['kind'], name: string, extra: Partial<FoundPrivilege> = {}): FoundPrivilege => ({ kind, name, on: null, via: [], ...extra });
const principal = (name: string, privileges: FoundPrivilege[], extra: Partial<ScannedPrincipal> = {}): ScannedPrincipal => ({
  integration: 'db', backend: 'postgresql', principal: name, kind: 'login', canLogin: true, privileges, lastUsedAt: NOW - DAY, watchedSince: NOW - 60 * DAY, ...extra,
});

describe('classifying a privilege', () => {
  it('puts reading below writing below administration below control over identities', () => {
    expect(classifyPrivilege(privilege('object', 'SELECT', { on: 'table shop.public.orders' }))).toBe('read');
    expect(classifyPrivilege(privilege('object', 'INSERT'))).toBe('write');
    expect(classifyPrivilege(privilege('object', 'TRUNCATE'))).toBe('write');
    expect(classifyPrivilege(privilege('ownership', 'table'))).toBe('admin');
    expect(classifyPrivilege(privilege('attribute', 'BYPASSRLS'))).toBe('admin');
    expect(classifyPrivilege(privilege('attribute', 'SUPERUSER'))).toBe('identity');
    expect(classifyPrivilege(privilege('attribute', 'CREATEROLE'))).toBe('identity');
    expect(classifyPrivilege(privilege('global', 'CREATE USER'))).toBe('identity');
    expect(classifyPrivilege(privilege('schema', 'ALL PRIVILEGES'))).toBe('admin');
    expect(classifyPrivilege(privilege('membership', 'pg_write_all_data'))).toBe('write');
  });

  it('raises what can be handed on: a grant option one step, a role held WITH ADMIN OPTION to identity control', () => {
    expect(classifyPrivilege(privilege('object', 'SELECT', { grantable: true }))).toBe('write');
    expect(classifyPrivilege(privilege('object', 'UPDATE', { grantable: true }))).toBe('admin');
    expect(classifyPrivilege(privilege('membership', 'orders_reader', { grantable: true }))).toBe('identity');
  });

  it('reads IAM actions: * and iam writes are identity control, service wildcards admin, Get/List reading', () => {
    expect(iamActionLevel('*')).toBe('identity');
    expect(iamActionLevel('iam:*')).toBe('identity');
    expect(iamActionLevel('iam:PassRole')).toBe('identity');
    expect(iamActionLevel('iam:ListUsers')).toBe('read');
    expect(iamActionLevel('s3:*')).toBe('admin');
    expect(iamActionLevel('s3:GetObject')).toBe('read');
    expect(iamActionLevel('s3:PutObject')).toBe('write');
  });
});

describe('active or dormant', () => {
  it('is active when used within the threshold, dormant when last used before it or never seen while watched, unknown when nobody watched', () => {
    expect(usageOf({ lastUsedAt: NOW - 29 * DAY, watchedSince: null }, NOW, 30 * DAY)).toBe('active');
    expect(usageOf({ lastUsedAt: NOW - 31 * DAY, watchedSince: null }, NOW, 30 * DAY)).toBe('dormant');
    expect(usageOf({ lastUsedAt: null, watchedSince: NOW - DAY }, NOW, 30 * DAY)).toBe('dormant');
    expect(usageOf({ lastUsedAt: null, watchedSince: null, activeNow: true }, NOW, 30 * DAY)).toBe('active');
    expect(usageOf({ lastUsedAt: null, watchedSince: null }, NOW, 30 * DAY)).toBe('unknown');
  });
});

describe('ranking principals', () => {
  it('ranks by level, then sensitivity and dormancy, and says why', () => {
    const ranked = rankPrincipals([
      principal('reader', [privilege('object', 'SELECT', { on: 'table t' })]),
      principal('writer', [privilege('object', 'INSERT', { on: 'table t' })]),
      principal('dormant_writer', [privilege('object', 'INSERT', { on: 'table t' })], { lastUsedAt: NOW - 90 * DAY }),
      principal('prod_writer', [privilege('object', 'INSERT', { on: 'table t' })], { integration: 'prod-db' }),
      principal('super', [privilege('attribute', 'SUPERUSER')]),
    ], options);
    expect(ranked.map((p) => p.principal)).toEqual(['prod_writer', 'super', 'dormant_writer', 'writer', 'reader']);
    const prod = ranked[0]!;
    expect(prod.level).toBe('write');
    expect(prod.sensitivity).toBe(3);
    expect(prod.reasons).toContain('sensitive: production');
    expect(ranked.find((p) => p.principal === 'dormant_writer')!.reasons).toContain('dormant: last used 90 days ago');
    expect(ranked.find((p) => p.principal === 'super')!.reasons[0]).toBe('identity control: SUPERUSER');
  });

  it('weighs a privilege inherited through a chain of roles like one held, and names the chain', () => {
    const [a] = rankPrincipals([principal('a', [privilege('object', 'DELETE', { on: 'table t', via: ['b', 'c'] })])], options);
    expect(a!.level).toBe('write');
    expect(a!.reasons[0]).toBe('write: DELETE on table t (through b → c)');
  });

  it('scores a role nobody can log in as, and a locked account, at half', () => {
    const [open, group] = rankPrincipals([
      principal('open', [privilege('attribute', 'SUPERUSER')]),
      principal('group', [privilege('attribute', 'SUPERUSER')], { canLogin: false, kind: 'group' }),
    ], options);
    expect(group!.score).toBeLessThan(open!.score);
    expect(group!.reasons).toContain('cannot log in itself (held through members)');
  });
});

describe('what changed between scans', () => {
  it('names new and gone principals and those whose score moved', () => {
    const changes = changesBetween(
      [{ integration: 'db', principal: 'old', score: 20 }, { integration: 'db', principal: 'same', score: 30 }, { integration: 'db', principal: 'up', score: 10 }],
      [{ integration: 'db', principal: 'same', score: 31 }, { integration: 'db', principal: 'up', score: 40 }, { integration: 'db', principal: 'fresh', score: 50 }],
    );
    expect(changes).toEqual([
      { integration: 'db', principal: 'fresh', change: 'new', score: 50, previousScore: null },
      { integration: 'db', principal: 'up', change: 'riskier', score: 40, previousScore: 10 },
      { integration: 'db', principal: 'old', change: 'gone', score: 0, previousScore: 20 },
    ]);
  });
});

describe('the discovery config', () => {
  const base = ['version: 1', 'groups:', '  - { name: dba, members: [dba@example.com] }', 'integrations:', '  - name: orders', '    type: postgresql', '    owner: dba@example.com', '    resources: [{ name: db, permissions: [read] }]', '  - name: hook', '    type: http', '    owner: dba@example.com', '    resources: [{ name: x, permissions: [run] }]'];

  const errorsOf = (lines: string[]): string[] => {
    const result = parseConfig([...base, ...lines, ''].join('\n'), 'latch.yaml');
    return result.ok ? [] : result.errors.map((error) => `${error.line} ${error.key}: ${error.message}`);
  };

  it('refuses a duration it cannot read, with its line', () => {
    expect(errorsOf(['discovery:', '  dormantAfter: soon'])).toEqual(['14 discovery.dormantAfter: "soon" is not a duration; write it like 30m, 4h, 1h30m or 7d']);
  });

  it('refuses an integration to scan that is not declared, one it cannot read, and a group not declared, each with its line', () => {
    expect(errorsOf(['discovery:', '  integrations: [orders, nope, hook]', '  approvers: [group:dbas]'])).toEqual([
      '14 discovery.integrations[1]: integration "nope" is not declared under integrations',
      '14 discovery.integrations[2]: integration "hook" has type http; discovery scans postgresql, mysql and aws-iam-role integrations',
      '15 discovery.approvers[0]: group "dbas" is not declared under groups',
    ]);
  });

  it('takes the defaults when discovery is left out', () => {
    const result = parseConfig(`${base.join('\n')}\n`, 'latch.yaml');
    expect(result.ok && result.config.discovery).toMatchObject({ dormantAfter: 30 * DAY, undoWithin: 7 * DAY, sensitivity: { production: 3 } });
  });
});
