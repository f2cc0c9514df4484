// The config file Latch runs under in the bench: one PostgreSQL and one MariaDB integration
// in the run's own databases, a flow that needs one approver (for approve → usable) and a
// flow without approval (to create thousands of grants fast), and the bench's people.
import type { BenchBackends } from './backends.js';
import { MY, PG } from './backends.js';

export const APPROVER = { slackId: 'UAPPROVER', email: 'approver@bench.example' } as const;
export const ADMIN = { slackId: 'UADMIN', email: 'admin@bench.example' } as const;

/** Requester number `n`: a Slack account and the e-mail it is bound to. Distinct people keep requests from overlapping. */
export function requester(n: number): { slackId: string; email: string } {
  return { slackId: `UR${n}`, email: `r${n}@bench.example` };
}

/** What a request of each kind is typed as after `/access `. */
export const REQUESTS = {
  postgresApproved: 'request pg/db read for 1h',
  mysqlApproved: 'request my/db read for 1h',
  /** Granted without approval; `for`/`at` are added by the caller. */
  postgresAutomatic: 'request pg/fast read',
} as const;

export function benchConfig(backends: BenchBackends, requesters: number): string {
  const members = Array.from({ length: requesters }, (_, n) => requester(n).email);
  return `version: 1
settings:
  instance: ${backends.instance}
  admins: [${ADMIN.email}]
groups:
  - name: benchers
    members: [${members.join(', ')}]
integrations:
  - name: pg
    type: postgresql
    owner: ${ADMIN.email}
    connection: { host: "${PG.host}", port: ${PG.port}, user: ${PG.user}, database: ${backends.database}, maxConnections: 10 }
    accessDetails: "user={{username}} database={{database}}"
    resources:
      - name: db
        settings: { database: ${backends.database} }
        permissions:
          read: { roles: [${backends.readRole}] }
      - name: fast
        settings: { database: ${backends.database} }
        permissions:
          read: { roles: [${backends.readRole}] }
  - name: my
    type: mysql
    owner: ${ADMIN.email}
    connection: { host: "${MY.host}", port: ${MY.port}, user: ${MY.user}, maxConnections: 10 }
    accessDetails: "user={{username}} database={{database}}"
    resources:
      - name: db
        settings: { database: ${backends.database} }
        permissions:
          read: { roles: [${backends.readRole}] }
flows:
  - name: approved
    requesters: [group:benchers]
    access:
      - { integration: pg, resources: { names: [db] }, permissions: [read] }
      - { integration: my, resources: { names: [db] }, permissions: [read] }
    approval:
      steps:
        - approvers: [${APPROVER.email}]
    duration: { default: 1h, max: 8h }
    justification: optional
  - name: automatic
    requesters: [group:benchers]
    access:
      - { integration: pg, resources: { names: [fast] }, permissions: [read] }
    approval: { autoApprove: true }
    duration: { default: 1h, max: 8h }
    justification: optional
`;
}
