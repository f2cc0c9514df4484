import { describe, expect, it } from 'vitest';
import { directoryFromConfig, withIdentitySources, type IdentityLookup } from '../../config/directory.js';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';
import { mergePeople, planSync, type SourcePerson } from '../../core/identity.js';

function report(text: string): string {
  const result = parseConfig(text, 'latch.yaml');
  return result.ok ? 'ok' : formatConfigErrors(result.errors);
}

const base = (sources: string, groups: string): string => `version: 1
identitySources:
${sources}
groups:
${groups}
`;

describe('identitySources in the config', () => {
  it('accepts every source type and SOURCE:GROUP members, e-mail-shaped Google groups included', () => {
    const text = base(`  - { type: entra, tenantId: contoso.onmicrosoft.com, clientId: 6b1f3c2e-1111-4222-8333-444455556666, clientSecret: { env: ENTRA_SECRET } }
  - { type: okta, url: https://corp.okta.com, token: { env: OKTA_API_TOKEN } }
  - { type: google, serviceAccountKey: { env: GOOGLE_KEY }, subject: admin@corp.com }
  - { type: slack }
  - { type: scim, token: { env: LATCH_SCIM_TOKEN } }`, `  - { name: dbas, members: ["entra:Database Admins", "okta:sre", "slack:@db-oncall", "google:eng@corp.com", "scim:DB Admins", alice@example.com] }`);
    const parsed = parseConfig(text, 'latch.yaml');
    if (!parsed.ok) throw new Error(formatConfigErrors(parsed.errors));
    expect(parsed.config.groups[0]?.members).toEqual(['entra:Database Admins', 'okta:sre', 'slack:@db-oncall', 'google:eng@corp.com', 'scim:DB Admins', 'alice@example.com']);
    expect(parsed.config.identitySources.map((source) => [source.type, source.syncEvery, source.maxDisableShare])).toEqual([
      ['entra', 900_000, 0.2], ['okta', 900_000, 0.2], ['google', 900_000, 0.2], ['slack', 900_000, 0.2], ['scim', 900_000, 0.2],
    ]);
  });

  it('names the undeclared source, a Slack group without its handle, a duplicate and a literal secret', () => {
    expect(report(base('  - { type: okta, url: https://corp.okta.com, token: { env: OKTA_API_TOKEN } }', '  - { name: dbas, members: ["entra:Database Admins"] }')))
      .toContain('"entra:Database Admins" names identity source "entra", which is not declared under identitySources (declared: okta)');
    expect(report(base('  - { type: slack }', '  - { name: oncall, members: ["slack:db-oncall"] }'))).toContain('"slack:db-oncall": name a Slack user group by its handle, e.g. slack:@db-oncall');
    expect(report(base('  - { type: slack }\n  - { type: slack }', '  - { name: a, members: [a@example.com] }'))).toContain('identity source "slack" is declared twice; give one a name of its own');
    expect(report(base('  - { type: okta, url: https://corp.okta.com, token: "00abc-literal-token" }', '  - { name: a, members: [a@example.com] }')))
      .toContain('identitySources[0].token: name the environment variable that holds it, like { env: OKTA_API_TOKEN }; never write the secret in the config');
    expect(report(base('  - { type: okta, url: http://corp.okta.com, token: { env: T } }', '  - { name: a, members: [a@example.com] }'))).toContain('"http://corp.okta.com" must be https:// (plain http:// only to this machine)');
    expect(report(base('  - { type: entra, tenantId: t1, clientSecret: { env: S } }', '  - { name: a, members: [a@example.com] }'))).toContain('clientSecret needs clientId');
    expect(report(base('  - { type: ldap }', '  - { name: a, members: [a@example.com] }'))).toContain('type must be one of entra, okta, google, slack, scim');
    expect(report(base('  - { type: okta, url: https://corp.okta.com, token: { env: T }, maxDisableShare: 120% }', '  - { name: a, members: [a@example.com] }'))).toContain('"120%" is not a share');
  });
});

describe('the directory with identity sources behind it', () => {
  const parsed = parseConfig(`version: 1
settings: { admins: [group:admins] }
identities:
  - { email: alice@example.com, manager: old-boss@example.com }
identitySources:
  - { type: okta, url: https://corp.okta.com, token: { env: T } }
groups:
  - { name: sre, members: ["okta:sre", bob@example.com] }
  - { name: admins, members: [group:sre] }
`, 'latch.yaml');
  if (!parsed.ok) throw new Error(formatConfigErrors(parsed.errors));
  const gone = new Set(['bob@example.com']);
  const lookup: IdentityLookup = {
    members: (ref) => (ref.source === 'okta' && ref.group === 'sre' ? ['alice@example.com', 'carol@example.com'] : []),
    managerOf: (email) => (email === 'alice@example.com' ? 'mia@example.com' : null),
    displayName: () => null,
    departed: (email) => (gone.has(email) ? 'okta reports bob@example.com disabled' : null),
  };
  const directory = withIdentitySources(directoryFromConfig(parsed.config), parsed.config, lookup);

  it('expands source groups through nested config groups and leaves out who is gone, admins included', () => {
    expect([...directory.membersOf('sre')].sort()).toEqual(['alice@example.com', 'carol@example.com']);
    expect([...directory.admins()].sort()).toEqual(['alice@example.com', 'carol@example.com']);
    expect(directory.isAdmin('bob@example.com')).toBe(false);
    expect(directory.departed('bob@example.com')).toBe('okta reports bob@example.com disabled');
  });

  it('takes the manager from the source before identities', () => {
    expect(directory.managerOf('alice@example.com')).toBe('mia@example.com');
    expect(directoryFromConfig(parsed.config).managerOf('alice@example.com')).toBe('old-boss@example.com');
  });
});

describe('what a sync answer means', () => {
  const person = (id: string, active = true): SourcePerson => ({ id, email: `${id}@example.com`, name: null, active, manager: null });
  const before = Array.from({ length: 10 }, (_, index) => person(`p${index}`));

  it('finds the disabled and the no longer listed, and keeps the missing as deleted', () => {
    const next = { people: [...before.slice(0, 8), person('p8', false)], groups: [], authoritative: true };
    const plan = planSync('okta', before, next, 0.2);
    expect(plan.leavers).toEqual([{ email: 'p8@example.com', source: 'okta', id: 'p8', reason: 'disabled' }, { email: 'p9@example.com', source: 'okta', id: 'p9', reason: 'deleted' }]);
    expect(plan.held).toBeNull();
    expect(mergePeople(before, next).at(-1)).toEqual({ ...person('p9', false), deleted: true });
  });

  it('holds an empty or mostly disabled answer', () => {
    expect(planSync('okta', before, { people: [], groups: [], authoritative: true }, 0.2).held?.message).toBe('identity source okta reports 10 of 10 active people disabled or gone (100%, more than maxDisableShare 20%); the answer is held and nothing was applied');
    expect(planSync('okta', before, { people: before.slice(0, 7), groups: [], authoritative: true }, 0.2).held?.share).toBeCloseTo(0.3);
    expect(planSync('slack', before, { people: [], groups: [], authoritative: false }, 0.2)).toMatchObject({ leavers: [], held: null });
  });
});

describe('emergency access for someone a source reports gone', () => {
  it('is refused even where the flow names them, and they cannot end a grant as a lead', async () => {
    const { EmergencyFlow } = await import('../../config/schema.js');
    const { emergencyRequester, isEmergencyLead } = await import('../../core/emergency.js');
    const flow = EmergencyFlow.parse({ name: 'break-glass', requesters: ['bob@example.com', 'alice@example.com'], leads: ['bob@example.com'], access: [{ integration: 'pg', resources: 'any', permissions: ['read'] }] });
    const parsed = parseConfig('version: 1\n', 'latch.yaml');
    if (!parsed.ok) throw new Error('empty config refused');
    const lookup: IdentityLookup = { members: () => [], managerOf: () => null, displayName: () => null, departed: (email) => (email === 'bob@example.com' ? 'okta reports bob@example.com disabled' : null) };
    const directory = withIdentitySources(directoryFromConfig(parsed.config), parsed.config, lookup);
    expect(emergencyRequester([flow], directory, 'bob@example.com', new Map(), 'pg/app read')).toEqual({ ok: false, reason: 'not_on_call', message: 'Latch no longer grants you access: okta reports bob@example.com disabled. Ask an admin if that is wrong.' });
    expect(emergencyRequester([flow], directory, 'alice@example.com', new Map(), 'pg/app read')).toMatchObject({ ok: true, matched: 'alice@example.com' });
    expect(isEmergencyLead(flow, directory, 'bob@example.com')).toBe(false);
  });
});
