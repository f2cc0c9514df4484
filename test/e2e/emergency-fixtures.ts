// The emergency flow and PagerDuty answers the emergency end-to-end tests share.

export const PD = 'https://pd.test';

export const EMERGENCY = `schedules:
  - name: db-primary
    pagerduty: { schedule: PSCHED1 }
    cacheFor: 1m
    staleFor: 10m
emergency:
  - name: db-break-glass
    requesters: [oncall:db-primary]
    access:
      - { integration: orders, resources: { names: [orders-prod] }, permissions: [write] }
    maxDuration: 1h
    invokeIn: [{ platform: slack, id: C0ALL }, { platform: teams, id: "19:incident@thread.tacv2" }]
    securityChannels: [{ platform: slack, id: C0SECURITY }, { platform: teams, id: "19:security@thread.tacv2" }]
    leads: [group:leads]
    dailyLimit: 2`;

/** PagerDuty's GET /oncalls answer with include[]=users: the on-call user carries the e-mail. */
export function onCalls(...emails: string[]): Record<string, unknown> {
  return {
    oncalls: emails.map((email, index) => ({
      escalation_policy: { id: 'PEP0001', type: 'escalation_policy_reference', summary: 'Database', self: `${PD}/escalation_policies/PEP0001`, html_url: 'https://acme.pagerduty.com/escalation_policies/PEP0001' },
      escalation_level: 1,
      schedule: { id: 'PSCHED1', type: 'schedule_reference', summary: 'DB primary', self: `${PD}/schedules/PSCHED1`, html_url: 'https://acme.pagerduty.com/schedules/PSCHED1' },
      user: { id: `PUSER0${index}`, type: 'user', name: email.split('@')[0], summary: email.split('@')[0], email, time_zone: 'UTC', self: `${PD}/users/PUSER0${index}`, html_url: `https://acme.pagerduty.com/users/PUSER0${index}` },
      start: '2026-11-30T09:00:00Z',
      end: '2026-12-07T09:00:00Z',
    })),
    limit: 25, offset: 0, more: false, total: null,
  };
}

/** The flow with a reviewer of its own and hourly review reminders. */
export const REVIEWED = EMERGENCY.replace('    dailyLimit: 2', '    dailyLimit: 2\n    reviewers: [lead@example.com]\n    reviewReminder: 1h');
