// Cross-references of identity sources: names are unique, every `SOURCE:GROUP` in a group
// names a declared source, and there is one SCIM endpoint to push to.
import { sourceGroupRef } from '../core/identity.js';
import type { ReferenceIssue } from './references.js';
import { identitySourceName, type LatchConfig } from './schema.js';

export function checkIdentitySourceReferences(config: LatchConfig): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const declared = new Map<string, string>();
  config.identitySources.forEach((source, index) => {
    const name = identitySourceName(source);
    if (declared.has(name)) issues.push({ path: ['identitySources', index, 'name'], message: `identity source "${name}" is declared twice; give one a name of its own` });
    declared.set(name, source.type);
  });
  const scim = config.identitySources.filter((source) => source.type === 'scim');
  if (scim.length > 1) issues.push({ path: ['identitySources'], message: 'only one scim source can be declared: /scim/v2 is one endpoint' });
  config.groups.forEach((group, index) => {
    group.members.forEach((member, memberIndex) => {
      const ref = sourceGroupRef(member);
      if (!ref) return;
      if (!declared.has(ref.source)) {
        const known = [...declared.keys()];
        issues.push({
          path: ['groups', index, 'members', memberIndex],
          message: `"${member}" names identity source "${ref.source}", which is not declared under identitySources${known.length ? ` (declared: ${known.join(', ')})` : ''}`,
        });
      } else if (declared.get(ref.source) === 'slack' && !ref.group.startsWith('@')) {
        issues.push({ path: ['groups', index, 'members', memberIndex], message: `"${member}": name a Slack user group by its handle, e.g. ${ref.source}:@db-oncall` });
      }
    });
  });
  return issues;
}
