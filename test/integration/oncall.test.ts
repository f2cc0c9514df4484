import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import nock from 'nock';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { OnCallSchedules } from '../../bot/oncall/schedules.js';
import { parseConfig } from '../../config/parse.js';
import type { LatchConfig } from '../../config/schema.js';
import { rotaOnCall } from '../../core/oncall-rota.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';
import { orgConfig } from '../support/configs.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

// On-call sources: the config's own rota, PagerDuty (GET /oncalls) and Opsgenie
// (GET /v2/schedules/{id}/on-calls), faked with their real answer shapes. Answers are cached
// briefly; an unreachable provider's last answer is used for a bounded time, logged, and
// shown on /healthz?details=1.

const PD = 'https://pd.test';
const OG = 'https://og.test';
const ENV = { PAGERDUTY_TOKEN: 'pd-token-secret-value', PAGERDUTY_API_URL: PD, OPSGENIE_API_KEY: 'og-key-secret-value', OPSGENIE_API_URL: OG };

const SCHEDULES = `schedules:
  - name: db-primary
    pagerduty: { schedule: PSCHED1 }
    cacheFor: 1m
    staleFor: 10m
  - name: payments
    pagerduty: { escalationPolicy: PPOLICY1, levels: [1] }
  - name: platform
    opsgenie: { schedule: platform_schedule }
  - name: weekly
    rota:
      people: [alice@example.com, bob@example.com, lead@example.com]
      handovers: [{ day: mon, at: "09:00" }, { day: thu, at: "09:00" }]
      startsOn: 2026-11-02
      overrides:
        - { person: mia@example.com, from: "2026-11-20 12:00", to: "2026-11-21 12:00" }`;

/** A PagerDuty /oncalls entry as the API sends it with include[]=users. */
function pdOnCall(email: string, level: number, schedule: string | null): Record<string, unknown> {
  const id = `P${email.slice(0, 4).toUpperCase()}`;
  return {
    escalation_policy: { id: 'PPOLICY1', type: 'escalation_policy_reference', summary: 'Payments', self: `${PD}/escalation_policies/PPOLICY1`, html_url: 'https://acme.pagerduty.com/escalation_policies/PPOLICY1' },
    escalation_level: level,
    schedule: schedule ? { id: schedule, type: 'schedule_reference', summary: 'DB primary', self: `${PD}/schedules/${schedule}`, html_url: `https://acme.pagerduty.com/schedules/${schedule}` } : null,
    user: { id, type: 'user', summary: email.split('@')[0], name: email.split('@')[0], email, time_zone: 'Europe/Berlin', self: `${PD}/users/${id}`, html_url: `https://acme.pagerduty.com/users/${id}` },
    start: '2026-11-30T09:00:00Z',
    end: '2026-12-07T09:00:00Z',
  };
}

function config(extra = SCHEDULES): LatchConfig {
  const parsed = parseConfig(orgConfig({ extra }), 'latch.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.config;
}

function logSink(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  return { log: pino({ level: 'info' }, stream), lines };
}

beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('the config rota', () => {
  const rota = config().schedules.find((schedule) => schedule.name === 'weekly')?.rota;
  if (!rota) throw new Error('no rota');
  const at = (local: string): number => Date.parse(`${local}+01:00`); // Berlin in November is UTC+1

  it('passes the shift on at each weekly hand-over, in the settings time zone', () => {
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-02T08:59:00'))).toEqual([]); // before the first shift
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-02T09:00:00'))).toEqual(['alice@example.com']);
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-05T08:59:00'))).toEqual(['alice@example.com']);
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-05T09:00:00'))).toEqual(['bob@example.com']);
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-09T10:00:00'))).toEqual(['lead@example.com']);
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-12T10:00:00'))).toEqual(['alice@example.com']); // round again
  });

  it('keeps the hand-over at its wall-clock time across a daylight-saving change', () => {
    const weekly = { people: ['alice@example.com', 'bob@example.com'], handovers: [{ day: 'mon' as const, at: '09:00' }], startsOn: '2026-03-23', overrides: [] };
    // Berlin moves to summer time on 2026-03-29: Monday 09:00 is 07:00 UTC after it, 08:00 UTC before.
    expect(rotaOnCall(weekly, 'Europe/Berlin', Date.parse('2026-03-23T08:00:00Z'))).toEqual(['alice@example.com']);
    expect(rotaOnCall(weekly, 'Europe/Berlin', Date.parse('2026-03-30T06:59:00Z'))).toEqual(['alice@example.com']);
    expect(rotaOnCall(weekly, 'Europe/Berlin', Date.parse('2026-03-30T07:00:00Z'))).toEqual(['bob@example.com']);
  });

  it('lets an override take the shift for its time', () => {
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-20T11:59:00'))).toEqual(['lead@example.com']);
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-20T12:00:00'))).toEqual(['mia@example.com']);
    expect(rotaOnCall(rota, 'Europe/Berlin', at('2026-11-21T12:00:00'))).toEqual(['lead@example.com']);
  });

  it('refuses a schedule with two sources, an undeclared oncall: name and an override that ends before it starts', () => {
    const twoSources = parseConfig(orgConfig({ extra: 'schedules:\n  - { name: x, pagerduty: { schedule: P1 }, opsgenie: { schedule: y } }' }), 'latch.yaml');
    expect(twoSources.ok ? [] : twoSources.errors.map((error) => error.message)).toContain('a schedule needs exactly one source: rota, pagerduty or opsgenie');
    const undeclared = parseConfig(orgConfig({ extra: '  - name: shifts\n    requesters: [oncall:nobody]\n    access: [{ integration: orders, resources: any, permissions: [read] }]\n    approval: { autoApprove: true }\n    duration: { default: 1h, max: 1h }' }), 'latch.yaml');
    expect(undeclared.ok ? [] : undeclared.errors.map((error) => error.message)).toContain('schedule "nobody" is not declared under schedules');
    const backwards = parseConfig(orgConfig({ extra: 'schedules:\n  - name: r\n    rota: { people: [alice@example.com], handovers: [{ day: mon, at: "09:00" }], startsOn: 2026-01-05, overrides: [{ person: bob@example.com, from: "2026-02-02 10:00", to: "2026-02-01 10:00" }] }' }), 'latch.yaml');
    expect(backwards.ok ? [] : backwards.errors.map((error) => error.message)).toContain('the override ends before it starts');
  });
});

describe('PagerDuty and Opsgenie', () => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const schedulesFor = (env: NodeJS.ProcessEnv = ENV): { oncall: OnCallSchedules; lines: Record<string, unknown>[] } => {
    const { log, lines } = logSink();
    const active = config();
    return { oncall: new OnCallSchedules({ env, config: () => active, now: () => clock, log }), lines };
  };

  it('reads a PagerDuty schedule with its users e-mail, and caches the answer', async () => {
    let sent: { headers: Record<string, string | string[] | undefined>; query: string } | undefined;
    const scope = nock(PD).get('/oncalls').query(true).reply(function (uri) {
      sent = { headers: this.req.headers, query: decodeURIComponent(uri) };
      return [200, { oncalls: [pdOnCall('Alice@example.com', 1, 'PSCHED1'), pdOnCall('alice@example.com', 2, 'PSCHED1')], limit: 100, offset: 0, more: false, total: null }];
    });
    const { oncall } = schedulesFor();
    expect(await oncall.lookup('db-primary')).toMatchObject({ people: ['alice@example.com'], state: 'fresh', source: 'pagerduty' });
    expect(sent?.query).toContain('schedule_ids[]=PSCHED1');
    expect(sent?.query).toContain('include[]=users');
    expect(sent?.headers.authorization).toBe('Token token=pd-token-secret-value');
    expect(sent?.headers.accept).toBe('application/vnd.pagerduty+json;version=2');
    expect(scope.isDone()).toBe(true);
    // Within cacheFor the provider is not asked again (nock would refuse a second call).
    clock += 30_000;
    expect(await oncall.lookup('db-primary')).toMatchObject({ people: ['alice@example.com'], state: 'fresh' });
    expect(oncall.known('db-primary').has('alice@example.com')).toBe(true);
  });

  it('counts only the named levels of an escalation policy', async () => {
    nock(PD).get('/oncalls').query((query) => query['escalation_policy_ids[]'] === 'PPOLICY1').reply(200, {
      oncalls: [pdOnCall('bob@example.com', 1, null), pdOnCall('lead@example.com', 2, null)], limit: 100, offset: 0, more: false, total: null,
    });
    const { oncall } = schedulesFor();
    expect((await oncall.lookup('payments')).people).toEqual(['bob@example.com']);
  });

  it('reads the users among an Opsgenie schedule\'s participants with the GenieKey header', async () => {
    let auth: string | string[] | undefined;
    nock(OG).get('/v2/schedules/platform_schedule/on-calls').query({ scheduleIdentifierType: 'name', flat: 'false' }).reply(function () {
      auth = this.req.headers.authorization;
      return [200, {
        data: {
          _parent: { id: 'd875alp4-9b4e-4219-alp3-0c26936d18de', name: 'platform_schedule', enabled: true },
          onCallParticipants: [
            { id: 'b3578948-55b3-4acc-9bf1-2ce2db3alpa2', name: 'lead@example.com', type: 'user' },
            { id: '6f7a3b1c-0000-4d1e-9a8e-1c2d3e4f5a6b', name: 'platform_team', type: 'team' },
          ],
        },
        took: 0.104, requestId: '8b1a6a9e-8d11-4d2f-8ef3-2d7f2c0e4a11',
      }];
    });
    const { oncall } = schedulesFor();
    expect((await oncall.lookup('platform')).people).toEqual(['lead@example.com']);
    expect(auth).toBe('GenieKey og-key-secret-value');
  });

  it('uses the last answer while the provider is down, for at most staleFor, and logs the degradation once without the token', async () => {
    nock(PD).get('/oncalls').query(true).reply(200, { oncalls: [pdOnCall('alice@example.com', 1, 'PSCHED1')], limit: 100, offset: 0, more: false });
    const { oncall, lines } = schedulesFor();
    await oncall.lookup('db-primary');
    clock += 2 * 60_000;
    nock(PD).get('/oncalls').query(true).times(2).reply(503, { error: { message: 'Service Unavailable', code: 2001 } });
    expect(await oncall.lookup('db-primary')).toMatchObject({ people: ['alice@example.com'], state: 'stale', error: expect.stringContaining('PagerDuty answered 503') });
    expect(await oncall.lookup('db-primary')).toMatchObject({ state: 'stale' });
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain('on-call schedule db-primary: pagerduty cannot be reached; using its answer from');
    // Past staleFor (10m after the last good read) nobody counts as on call any more.
    clock += 9 * 60_000;
    nock(PD).get('/oncalls').query(true).replyWithError('connect ECONNREFUSED');
    expect(await oncall.lookup('db-primary')).toMatchObject({ people: [], state: 'unavailable' });
    expect(oncall.known('db-primary').size).toBe(0);
    expect(JSON.stringify(lines)).not.toContain('pd-token-secret-value');
    // An error text that carries the request (nock's does, with its headers) is shown without the token.
    nock.cleanAll();
    clock += 60_000;
    const unmatched = await oncall.lookup('db-primary');
    expect(unmatched.error).toContain('"authorization": "[redacted]"');
    expect(unmatched.error).not.toContain('pd-token-secret-value');
    // When it answers again, it is trusted again and the recovery is logged.
    nock(PD).get('/oncalls').query(true).reply(200, { oncalls: [pdOnCall('bob@example.com', 1, 'PSCHED1')], limit: 100, offset: 0, more: false });
    expect(await oncall.lookup('db-primary')).toMatchObject({ people: ['bob@example.com'], state: 'fresh' });
    expect(lines.some((line) => String(line.msg).includes('pagerduty answers again'))).toBe(true);
  });

  it('adds alert notes in Opsgenie and reads whether the alert is open', async () => {
    let sent: { auth: string | string[] | undefined; body: unknown } | undefined;
    nock(OG).post('/v2/alerts/8418d193-2dab-4490-b331-8c02cdd196b7/notes').query({ identifierType: 'id' }).reply(202, function (_uri, body) {
      sent = { auth: this.req.headers.authorization, body };
      return { result: 'Request will be processed', took: 0.302, requestId: '43a29c5c-3dbf-4fa4-9c26-f4f71023e120' };
    });
    nock(OG).get('/v2/alerts/1234').query({ identifierType: 'tiny' }).reply(200, { data: { id: '8418d193-2dab-4490-b331-8c02cdd196b7', tinyId: '1234', status: 'closed', acknowledged: true }, took: 0.1, requestId: 'r2' });
    const alerts = schedulesFor().oncall.incidents('opsgenie');
    await alerts?.addNote('8418d193-2dab-4490-b331-8c02cdd196b7', 'Latch: emergency access granted', 'alice@example.com');
    expect(sent).toEqual({ auth: 'GenieKey og-key-secret-value', body: { user: 'alice@example.com', source: 'Latch', note: 'Latch: emergency access granted' } });
    expect(await alerts?.isOpen('1234')).toBe(false);
    expect(schedulesFor({}).oncall.incidents('pagerduty')).toBeNull();
  });

  it('says a missing token is why nobody is on call', async () => {
    const { oncall } = schedulesFor({});
    expect(await oncall.lookup('platform')).toMatchObject({ state: 'unavailable', error: 'OPSGENIE_API_KEY is not set' });
  });
});

describe('/healthz?details=1', () => {
  let latch: RunningLatch | null = null;
  let dir = '';
  afterEach(async () => {
    await latch?.stop();
    latch = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows each schedule and a degraded provider', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-oncall-'));
    writeFileSync(join(dir, 'latch.yaml'), orgConfig({ extra: SCHEDULES }));
    nock(PD).get('/oncalls').query(true).times(4).reply(500, { error: { message: 'Internal Server Error' } });
    nock(OG).get(/\/v2\/schedules\/.*/).query(true).reply(200, { data: { onCallParticipants: [{ name: 'lead@example.com', type: 'user' }] }, took: 0.1, requestId: 'r1' });
    latch = await startLatch({
      configFile: join(dir, 'latch.yaml'), databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(), provisioners: new ProvisionerRegistry({}).use('orders', new MemoryProvisioner()), env: ENV, watchConfig: false,
    });
    const details = await (await fetch(`http://127.0.0.1:${latch.port}/healthz?details=1`)).json() as { schedules: { schedule: string; state: string; error: string | null; onCall: number }[] };
    expect(details.schedules).toEqual(expect.arrayContaining([
      expect.objectContaining({ schedule: 'db-primary', source: 'pagerduty', state: 'unavailable', error: expect.stringContaining('PagerDuty answered 500') }),
      expect.objectContaining({ schedule: 'platform', source: 'opsgenie', state: 'fresh', onCall: 1 }),
      expect.objectContaining({ schedule: 'weekly', source: 'rota', state: 'fresh' }),
    ]));
  });
});
