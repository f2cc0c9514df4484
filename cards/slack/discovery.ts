import type { DiscoveryDetailView, DiscoveryListView } from '../discovery.js';
import { actions, clip, context, escapeMrkdwn, fields, header, mrkdwn, plain, section, type SlackBlock } from './block-kit.js';
import type { SlackMessage } from './messages.js';

export const DISCOVERY_ACTION = { detail: 'latch.discovery_detail', remediate: 'latch.discovery_remediate' } as const;

/** A button's value: which principal to open; the scan behind the detail is made anew. */
export function detailValue(integration: string, principal: string): string {
  return clip(JSON.stringify([integration, principal]), 2000);
}

export function parseDetailValue(value: string): { integration: string; principal: string } | null {
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') return { integration: parsed[0], principal: parsed[1] };
  } catch {
    // Not a value Latch made.
  }
  return null;
}

export function discoveryListMessage(view: DiscoveryListView): SlackMessage {
  const blocks: SlackBlock[] = [header(view.title), section(escapeMrkdwn(view.summary))];
  view.rows.forEach((row, index) => {
    blocks.push(section(`*${row.score}*  \`${escapeMrkdwn(row.principal)}\` in ${escapeMrkdwn(row.integration)}: *${row.level}*, ${row.usage}\n${row.reasons.map((reason) => `• ${escapeMrkdwn(reason)}`).join('\n')}`, `discovery:${index}`));
    blocks.push(actions(`discovery:${index}:actions`, [{ text: 'Details', actionId: DISCOVERY_ACTION.detail, value: detailValue(row.integration, row.principal) }]));
  });
  if (view.rows.length === 0) blocks.push(section('Nobody holds standing privileges in the scanned integrations.'));
  for (const problem of view.problems) blocks.push(context(`Not scanned: ${escapeMrkdwn(problem)}`));
  return { text: `${view.title}: ${view.summary}`, blocks: blocks.slice(0, 50) };
}

export function discoveryDetailMessage(view: DiscoveryDetailView): SlackMessage {
  const code = (lines: string[]): string => `\`\`\`${clip(lines.join('\n'), 2900)}\`\`\``;
  const blocks: SlackBlock[] = [
    header(view.title),
    fields(view.facts.map(([label, value]) => [label, escapeMrkdwn(value)])),
    section(view.reasons.map((reason) => `• ${escapeMrkdwn(reason)}`).join('\n')),
    section(`*Privileges*\n${view.privileges.map((line) => `• ${escapeMrkdwn(line)}`).join('\n')}`),
    section(`*Revoking would run*\n${view.revokes.length > 0 ? code(view.revokes) : 'nothing Latch can revoke'}`),
    ...(view.left.length > 0 ? [section(`*Left for a person*\n${view.left.map((line) => `• ${escapeMrkdwn(line)}`).join('\n')}`)] : []),
    section(`*The access flow that replaces it*\n${code([view.snippet])}`),
    context(escapeMrkdwn(view.howToRemediate)),
  ];
  if (view.canRevoke) {
    // Slack asks the clicker itself before the click is sent: no revoke on a stray tap.
    blocks.push({
      type: 'actions', block_id: 'discovery:remediate',
      elements: [{
        type: 'button', text: plain('Revoke standing access', 75), action_id: DISCOVERY_ACTION.remediate, value: detailValue(view.integration, view.principal), style: 'danger',
        confirm: {
          title: plain('Revoke standing access?', 100), text: mrkdwn(clip(`Runs ${view.revokes.length} statement${view.revokes.length === 1 ? '' : 's'} on ${escapeMrkdwn(view.integration)} for \`${escapeMrkdwn(view.principal)}\`. It can be undone within the grace period.`, 300)),
          confirm: plain('Revoke', 30), deny: plain('Cancel', 30), style: 'danger',
        },
      }],
    });
  }
  return { text: view.title, blocks };
}
