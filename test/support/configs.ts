/** A small organisation used by the life-cycle tests. Line numbers do not matter here. */
export function orgConfig(options: { approvers?: number; settings?: string; extra?: string } = {}): string {
  const approverCount = options.approvers ?? 3;
  const approvers = Array.from({ length: approverCount }, (_, index) => `approver${index}@example.com`);
  return `version: 1
settings:
  admins: [sec@example.com]
  reminderInterval: 1h
  escalateAfter: 2h
  expiryWarning: 1m
${options.settings ?? ''}
identities:
  - { email: alice@example.com, manager: mia@example.com }
  - { email: bob@example.com }
groups:
  - name: engineers
    members: [alice@example.com, bob@example.com, lead@example.com]
  - name: leads
    members: [lead@example.com, alice@example.com, ${approvers.join(', ')}]
  - name: security
    members: [sec@example.com, sec2@example.com]
integrations:
  - name: orders
    type: postgresql
    owner: group:leads
    accessDetails: "psql -h {{host}} -U {{username}} {{database}}"
    connection: { database: orders }
    resources:
      - { name: orders-prod, labels: [production], owner: owner@example.com, permissions: [read, write] }
      - { name: orders-staging, labels: [staging], permissions: [read, write] }
      - { name: broken-db, labels: [staging], permissions: [read] }
flows:
  - name: staging
    requesters: [group:engineers]
    access:
      - { integration: orders, resources: { labels: [staging] }, permissions: [read, write] }
    approval: { autoApprove: true }
    duration: { default: 1h, max: 8h }
    justification: optional
  - name: prod-read
    requesters: [group:engineers]
    access:
      - { integration: orders, resources: { names: [orders-prod] }, permissions: [read] }
    approval:
      steps:
        - approvers: [group:leads]
    duration: { default: 1h, max: 4h }
    justification: required
    timeout: 2h
  - name: prod-write
    requesters: [group:engineers]
    access:
      - { integration: orders, resources: { names: [orders-prod] }, permissions: [write] }
    approval:
      steps:
        - { name: manager, approvers: [manager] }
        - { name: security, approvers: [group:security], required: 2 }
    duration: { default: 30m, max: 2h }
    justification: required
${options.extra ?? ''}`;
}
