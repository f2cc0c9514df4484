// Cross-references of access discovery: every integration it is told to scan exists and is
// of a type it can read, and the approvers it proposes name declared groups.
import type { ReferenceIssue } from './references.js';
import type { LatchConfig } from './schema.js';

const SCANNABLE = new Set(['postgresql', 'mysql', 'aws-iam-role']);

export function checkDiscoveryReferences(config: LatchConfig): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const integrations = new Map(config.integrations.map((integration) => [integration.name, integration]));
  config.discovery.integrations?.forEach((name, index) => {
    const integration = integrations.get(name);
    if (!integration) issues.push({ path: ['discovery', 'integrations', index], message: `integration "${name}" is not declared under integrations` });
    else if (!SCANNABLE.has(integration.type)) issues.push({ path: ['discovery', 'integrations', index], message: `integration "${name}" has type ${integration.type}; discovery scans postgresql, mysql and aws-iam-role integrations` });
  });
  const groups = new Set(config.groups.map((group) => group.name));
  config.discovery.approvers?.forEach((approver, index) => {
    if (approver.kind === 'group' && !groups.has(approver.group)) issues.push({ path: ['discovery', 'approvers', index], message: `group "${approver.group}" is not declared under groups` });
  });
  return issues;
}
