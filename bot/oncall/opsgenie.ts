// Opsgenie: who is on call (GET /v2/schedules/{id}/on-calls), alerts (GET /v2/alerts/{id})
// and their notes (POST /v2/alerts/{id}/notes). The key goes in a GenieKey header.
import { callJson, isRecord, ProviderError, type IncidentProvider, type OnCallProvider } from './provider.js';

export const OPSGENIE_API_URL = 'https://api.opsgenie.com';

export interface OpsgenieAccess {
  apiKey: string;
  baseUrl: string;
}

const headers = (access: OpsgenieAccess): Record<string, string> => ({ Authorization: `GenieKey ${access.apiKey}` });

/** Users among the participants; their `name` is the e-mail they log in with. Teams and escalations are not people. */
export function participantEmails(body: unknown): string[] {
  if (!isRecord(body) || !isRecord(body.data) || !Array.isArray(body.data.onCallParticipants)) throw new ProviderError('Opsgenie answered on-calls without data.onCallParticipants');
  const emails = new Set<string>();
  for (const participant of body.data.onCallParticipants as unknown[]) {
    if (isRecord(participant) && participant.type === 'user' && typeof participant.name === 'string' && participant.name.includes('@')) emails.add(participant.name.toLowerCase());
  }
  return [...emails];
}

export function opsgenieSchedule(access: OpsgenieAccess, schedule: string): OnCallProvider {
  // A UUID is an id; anything else is the schedule's name.
  const type = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(schedule) ? 'id' : 'name';
  return {
    name: 'opsgenie',
    async onCall() {
      const answer = await callJson('Opsgenie', `${access.baseUrl}/v2/schedules/${encodeURIComponent(schedule)}/on-calls?scheduleIdentifierType=${type}&flat=false`, { headers: headers(access) });
      if (answer.status === 404) throw new ProviderError(`Opsgenie does not know schedule ${schedule}`);
      return participantEmails(answer.body);
    },
  };
}

export function opsgenieAlerts(access: OpsgenieAccess): IncidentProvider {
  const type = (id: string): string => (/^\d+$/.test(id) ? 'tiny' : 'id');
  return {
    name: 'opsgenie',
    async isOpen(id) {
      const answer = await callJson('Opsgenie', `${access.baseUrl}/v2/alerts/${encodeURIComponent(id)}?identifierType=${type(id)}`, { headers: headers(access) });
      if (answer.status === 404 || !isRecord(answer.body) || !isRecord(answer.body.data)) return null;
      return answer.body.data.status === 'open';
    },
    async addNote(id, text, from) {
      const answer = await callJson('Opsgenie', `${access.baseUrl}/v2/alerts/${encodeURIComponent(id)}/notes?identifierType=${type(id)}`, {
        method: 'POST', headers: headers(access), body: { user: from, source: 'Latch', note: text },
      });
      if (answer.status === 404) throw new ProviderError(`Opsgenie does not know alert ${id}`);
    },
  };
}
