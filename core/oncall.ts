// On-call as Latch's handlers see it: who is on call for a named schedule, how sure Latch
// is of that answer, and what the incident tools can be told. Types only; the sources
// (the config's rota, PagerDuty, Opsgenie) live in bot/oncall/.

export type OnCallSourceKind = 'rota' | 'pagerduty' | 'opsgenie';

/**
 * `fresh`: read within the schedule's cacheFor (or computed, for a rota). `stale`: the
 * provider cannot be reached and this is its last answer, within staleFor. `unavailable`:
 * no answer Latch may use; nobody counts as on call.
 */
export type OnCallState = 'fresh' | 'stale' | 'unavailable' | 'unknown_schedule';

export interface OnCallAnswer {
  schedule: string;
  source: OnCallSourceKind | null;
  people: readonly string[];
  state: OnCallState;
  /** When the people were read from the source. */
  readAt: number | null;
  /** Why the provider did not answer, when it did not. */
  error: string | null;
}

export interface OnCallProvider {
  readonly name: 'pagerduty' | 'opsgenie';
  /** E-mail addresses (lower case) of the people on call now. */
  onCall(): Promise<string[]>;
}

export interface IncidentProvider {
  readonly name: 'pagerduty' | 'opsgenie';
  /** True while the incident (PagerDuty) or alert (Opsgenie) is open; null when the provider does not know it. */
  isOpen(id: string): Promise<boolean | null>;
  /** Adds `text` to the incident's timeline. `from` is the e-mail of the person the note is written for. */
  addNote(id: string, text: string, from: string): Promise<void>;
}

export interface OnCall {
  /** Who is on call now: the cached answer while fresh, else the source, else the last answer for a bounded time. */
  lookup(schedule: string): Promise<OnCallAnswer>;
  /** The answer Latch has without waiting (for policy checks); asks the source again in the background when it is old. */
  known(schedule: string): ReadonlySet<string>;
  /** The incident tool of a provider, or null when its token is not set. */
  incidents(provider: 'pagerduty' | 'opsgenie'): IncidentProvider | null;
}
