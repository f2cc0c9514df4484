import type { DiscoveryDetailView, DiscoveryListView } from '../discovery.js';
import { card, escapeMarkdown, execute, facts, text, type AdaptiveCard, type CardElement } from './adaptive.js';

export const DISCOVERY_VERB = { detail: 'discovery.detail', ask: 'discovery.remediate.ask', remediate: 'discovery.remediate' } as const;

export function discoveryListCard(view: DiscoveryListView): AdaptiveCard {
  const body: CardElement[] = [text(escapeMarkdown(view.title), { size: 'Medium', weight: 'Bolder' }), text(escapeMarkdown(view.summary))];
  for (const row of view.rows) {
    body.push({
      type: 'Container', separator: true,
      items: [
        text(`**${row.score}** ${escapeMarkdown(row.principal)} in ${escapeMarkdown(row.integration)}: **${escapeMarkdown(row.level)}**, ${row.usage}`),
        text(row.reasons.map((reason) => `- ${escapeMarkdown(reason)}`).join('\n'), { isSubtle: true }),
        { type: 'ActionSet', actions: [execute('Details', DISCOVERY_VERB.detail, { integration: row.integration, principal: row.principal })] },
      ],
    });
  }
  if (view.rows.length === 0) body.push(text('Nobody holds standing privileges in the scanned integrations.'));
  for (const problem of view.problems) body.push(text(`Not scanned: ${escapeMarkdown(problem)}`, { color: 'Attention' }));
  return card(body);
}

export function discoveryDetailCard(view: DiscoveryDetailView): AdaptiveCard {
  const mono = (value: string): CardElement => ({ type: 'TextBlock', text: value, wrap: true, fontType: 'Monospace', size: 'Small' });
  return card([
    text(escapeMarkdown(view.title), { size: 'Medium', weight: 'Bolder' }),
    facts(view.facts.map(([label, value]) => [label, escapeMarkdown(value)])),
    text(view.reasons.map((reason) => `- ${escapeMarkdown(reason)}`).join('\n')),
    text('**Privileges**'),
    text(view.privileges.map((line) => `- ${escapeMarkdown(line)}`).join('\n')),
    text('**Revoking would run**'),
    mono(view.revokes.length > 0 ? view.revokes.join('\n') : 'nothing Latch can revoke'),
    ...(view.left.length > 0 ? [text('**Left for a person**'), text(view.left.map((line) => `- ${escapeMarkdown(line)}`).join('\n'))] : []),
    text('**The access flow that replaces it**'),
    mono(view.snippet),
    text(escapeMarkdown(view.howToRemediate), { isSubtle: true }),
  ], { actions: view.canRevoke ? [execute('Revoke standing access', DISCOVERY_VERB.ask, { integration: view.integration, principal: view.principal }, 'destructive')] : [] });
}

/** Teams has no confirmation dialog: the Revoke button answers with this card, and only its button revokes. */
export function discoveryConfirmCard(view: DiscoveryDetailView): AdaptiveCard {
  return card([
    text(`Revoke the standing access of ${escapeMarkdown(view.principal)} in ${escapeMarkdown(view.integration)}?`, { weight: 'Bolder' }),
    { type: 'TextBlock', text: view.revokes.join('\n'), wrap: true, fontType: 'Monospace', size: 'Small' },
    text('It can be undone within the grace period.', { isSubtle: true }),
  ], {
    actions: [
      execute('Revoke', DISCOVERY_VERB.remediate, { integration: view.integration, principal: view.principal }, 'destructive'),
      execute('Cancel', DISCOVERY_VERB.detail, { integration: view.integration, principal: view.principal }),
    ],
  });
}
