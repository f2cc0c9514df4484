// PagerDuty REST API v2: who is on call (GET /oncalls), incidents (GET /incidents/{id})
// and their notes (POST /incidents/{id}/notes, which needs a From header naming a user).
import { callJson, isRecord, ProviderError, type IncidentProvider, type OnCallProvider } from './provider.js';

export const PAGERDUTY_API_URL = 'https://api.pagerduty.com';

export interface PagerDutyAccess {
  token: string;
  baseUrl: string;
  /** The PagerDuty user notes are written as; the grantee when unset. */
  from?: string;
}

function headers(access: PagerDutyAccess): Record<string, string> {
  return { Authorization: `Token token=${access.token}`, Accept: 'application/vnd.pagerduty+json;version=2' };
}

/** The e-mail of each on-call entry; `include[]=users` makes PagerDuty put it on the user. */
export function onCallEmails(body: unknown, levels: readonly number[] | null): string[] {
  if (!isRecord(body) || !Array.isArray(body.oncalls)) throw new ProviderError('PagerDuty answered /oncalls without an oncalls list');
  const emails = new Set<string>();
  for (const entry of body.oncalls as unknown[]) {
    if (!isRecord(entry) || !isRecord(entry.user)) continue;
    if (levels !== null && !levels.includes(Number(entry.escalation_level))) continue;
    const email = entry.user.email;
    if (typeof email === 'string' && email.includes('@')) emails.add(email.toLowerCase());
  }
  return [...emails];
}

export function pagerDutySchedule(access: PagerDutyAccess, source: { schedule?: string | undefined; escalationPolicy?: string | undefined; levels: readonly number[] }): OnCallProvider {
  return {
    name: 'pagerduty',
    async onCall() {
      const query = new URLSearchParams({ 'include[]': 'users', earliest: 'true', limit: '100' });
      if (source.schedule) query.append('schedule_ids[]', source.schedule);
      if (source.escalationPolicy) query.append('escalation_policy_ids[]', source.escalationPolicy);
      const answer = await callJson('PagerDuty', `${access.baseUrl}/oncalls?${query.toString()}`, { headers: headers(access) });
      if (answer.status === 404) throw new ProviderError(`PagerDuty does not know ${source.schedule ? `schedule ${source.schedule}` : `escalation policy ${source.escalationPolicy ?? ''}`}`);
      // A schedule's entries are its own people whatever level uses it; a policy counts only the levels named.
      return onCallEmails(answer.body, source.escalationPolicy ? source.levels : null);
    },
  };
}

export function pagerDutyIncidents(access: PagerDutyAccess): IncidentProvider {
  return {
    name: 'pagerduty',
    async isOpen(id) {
      const answer = await callJson('PagerDuty', `${access.baseUrl}/incidents/${encodeURIComponent(id)}`, { headers: headers(access) });
      if (answer.status === 404 || !isRecord(answer.body) || !isRecord(answer.body.incident)) return null;
      return answer.body.incident.status !== 'resolved';
    },
    async addNote(id, text, from) {
      const answer = await callJson('PagerDuty', `${access.baseUrl}/incidents/${encodeURIComponent(id)}/notes`, {
        method: 'POST', headers: { ...headers(access), From: access.from ?? from }, body: { note: { content: text } },
      });
      if (answer.status === 404) throw new ProviderError(`PagerDuty does not know incident ${id}`);
    },
  };
}
