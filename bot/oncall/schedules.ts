// Who is on call, per schedule, with a short cache and a bounded fallback: a provider that
// cannot be reached does not lock the on-call engineer out in the middle of an incident,
// but its last answer is trusted only for the schedule's staleFor, and the degradation is
// logged and shown on /healthz?details=1.
import type { LatchConfig, Schedule } from '../../config/schema.js';
import type { IncidentProvider, OnCall, OnCallAnswer, OnCallProvider, OnCallSourceKind } from '../../core/oncall.js';
import { rotaOnCall } from '../../core/oncall-rota.js';
import type { Logger } from '../../handlers/context.js';
import { scrubText } from '../redact.js';
import { opsgenieAlerts, opsgenieSchedule, OPSGENIE_API_URL } from './opsgenie.js';
import { pagerDutyIncidents, pagerDutySchedule, PAGERDUTY_API_URL } from './pagerduty.js';

interface Cached {
  people: string[];
  readAt: number;
  /** The schedule's source as it was read, so a config change never serves another source's answer. */
  key: string;
}

export interface ScheduleHealth {
  schedule: string;
  source: OnCallSourceKind;
  state: OnCallAnswer['state'];
  onCall: number;
  readAt: string | null;
  error: string | null;
}

const EMPTY: ReadonlySet<string> = new Set();

function sourceOf(schedule: Schedule): OnCallSourceKind {
  return schedule.pagerduty ? 'pagerduty' : schedule.opsgenie ? 'opsgenie' : 'rota';
}

export class OnCallSchedules implements OnCall {
  private readonly cache = new Map<string, Cached>();
  private readonly failures = new Map<string, string>();
  private readonly reading = new Map<string, Promise<OnCallAnswer>>();

  constructor(private readonly deps: { env: NodeJS.ProcessEnv; config(): LatchConfig; now(): number; log: Logger }) {}

  private schedule(name: string): Schedule | undefined {
    return this.deps.config().schedules.find((candidate) => candidate.name === name);
  }

  private provider(schedule: Schedule): OnCallProvider | string {
    const { env } = this.deps;
    if (schedule.pagerduty) {
      if (!env.PAGERDUTY_TOKEN) return 'PAGERDUTY_TOKEN is not set';
      return pagerDutySchedule({ token: env.PAGERDUTY_TOKEN, baseUrl: env.PAGERDUTY_API_URL ?? PAGERDUTY_API_URL }, schedule.pagerduty);
    }
    if (schedule.opsgenie) {
      if (!env.OPSGENIE_API_KEY) return 'OPSGENIE_API_KEY is not set';
      return opsgenieSchedule({ apiKey: env.OPSGENIE_API_KEY, baseUrl: env.OPSGENIE_API_URL ?? OPSGENIE_API_URL }, schedule.opsgenie.schedule);
    }
    return 'no provider';
  }

  incidents(provider: 'pagerduty' | 'opsgenie'): IncidentProvider | null {
    const { env } = this.deps;
    if (provider === 'pagerduty') {
      return env.PAGERDUTY_TOKEN ? pagerDutyIncidents({ token: env.PAGERDUTY_TOKEN, baseUrl: env.PAGERDUTY_API_URL ?? PAGERDUTY_API_URL, ...(env.PAGERDUTY_FROM ? { from: env.PAGERDUTY_FROM } : {}) }) : null;
    }
    return env.OPSGENIE_API_KEY ? opsgenieAlerts({ apiKey: env.OPSGENIE_API_KEY, baseUrl: env.OPSGENIE_API_URL ?? OPSGENIE_API_URL }) : null;
  }

  async lookup(name: string): Promise<OnCallAnswer> {
    const schedule = this.schedule(name);
    const now = this.deps.now();
    if (!schedule) return { schedule: name, source: null, people: [], state: 'unknown_schedule', readAt: null, error: `no schedule called "${name}" in the config` };
    if (schedule.rota) return { schedule: name, source: 'rota', people: rotaOnCall(schedule.rota, this.deps.config().settings.timeZone, now), state: 'fresh', readAt: now, error: null };
    const key = JSON.stringify(schedule.pagerduty ?? schedule.opsgenie);
    const cached = this.cache.get(name);
    if (cached && cached.key === key && now - cached.readAt < schedule.cacheFor) {
      return { schedule: name, source: sourceOf(schedule), people: cached.people, state: 'fresh', readAt: cached.readAt, error: null };
    }
    // Concurrent misses share one call to the provider.
    const running = this.reading.get(name);
    if (running) return running;
    const read = this.read(name, schedule, key).finally(() => this.reading.delete(name));
    this.reading.set(name, read);
    return read;
  }

  private async read(name: string, schedule: Schedule, key: string): Promise<OnCallAnswer> {
    const source = sourceOf(schedule);
    const provider = this.provider(schedule);
    try {
      if (typeof provider === 'string') throw new Error(provider);
      const people = await provider.onCall();
      const readAt = this.deps.now();
      this.cache.set(name, { people, readAt, key });
      if (this.failures.delete(name)) this.deps.log.info({ schedule: name, source }, `on-call schedule ${name}: ${source} answers again`);
      return { schedule: name, source, people, state: 'fresh', readAt, error: null };
    } catch (error) {
      // The error is shown on /healthz and to the person refused: no secret may ride along.
      const message = scrubText(error instanceof Error ? error.message : String(error));
      const now = this.deps.now();
      const cached = this.cache.get(name);
      const usable = cached && cached.key === key && now - cached.readAt < schedule.staleFor;
      // Logged when the degradation starts or changes, not on every lookup.
      if (this.failures.get(name) !== message) {
        this.deps.log.warn({ schedule: name, source, err: message, usingLastAnswer: Boolean(usable), lastReadAt: cached?.readAt ?? null }, usable
          ? `on-call schedule ${name}: ${source} cannot be reached; using its answer from ${new Date(cached.readAt).toISOString()} for at most ${Math.round(schedule.staleFor / 60_000)} min`
          : `on-call schedule ${name}: ${source} cannot be reached and there is no recent answer; nobody counts as on call`);
      }
      this.failures.set(name, message);
      if (usable) return { schedule: name, source, people: cached.people, state: 'stale', readAt: cached.readAt, error: message };
      return { schedule: name, source, people: [], state: 'unavailable', readAt: cached?.readAt ?? null, error: message };
    }
  }

  known(name: string): ReadonlySet<string> {
    const schedule = this.schedule(name);
    if (!schedule) return EMPTY;
    const now = this.deps.now();
    if (schedule.rota) return new Set(rotaOnCall(schedule.rota, this.deps.config().settings.timeZone, now));
    const cached = this.cache.get(name);
    if (!cached || now - cached.readAt >= schedule.cacheFor) void this.lookup(name).catch(() => undefined);
    return cached && now - cached.readAt < schedule.staleFor ? new Set(cached.people) : EMPTY;
  }

  /** Every schedule as Latch sees it now, for /healthz?details=1. Reads providers whose cache ran out. */
  async health(): Promise<ScheduleHealth[]> {
    return Promise.all(this.deps.config().schedules.map(async (schedule) => {
      const answer = await this.lookup(schedule.name);
      return { schedule: schedule.name, source: sourceOf(schedule), state: answer.state, onCall: answer.people.length, readAt: answer.readAt !== null ? new Date(answer.readAt).toISOString() : null, error: answer.error };
    }));
  }
}
