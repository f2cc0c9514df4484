import type { HomeView, KnownBlock } from '@slack/types';
import type { RequestView } from '../request-view.js';
import { ACTION } from './messages.js';
import { actions, context, escapeMrkdwn, header, section } from './block-kit.js';

// A home tab holds at most 100 blocks; each entry takes two.
const PER_SECTION = 15;

function entries(views: RequestView[], describe: (view: RequestView) => string, buttons: (view: RequestView) => Parameters<typeof actions>[1], prefix: string): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  for (const view of views.slice(0, PER_SECTION)) {
    blocks.push(section(describe(view)), actions(`${prefix}:${view.id}`, buttons(view)));
  }
  if (views.length > PER_SECTION) blocks.push(context(`…and ${views.length - PER_SECTION} more: type \`/access list\`.`));
  return blocks;
}

export function homeView(input: { active: RequestView[]; pending: RequestView[]; approvals: RequestView[] }): HomeView {
  const blocks: KnownBlock[] = [header('Your access')];
  blocks.push(...(input.active.length === 0 ? [context('No active access. Ask with `/access request`.')] : entries(input.active,
    (view) => `*${view.id}* ${escapeMrkdwn(view.title)}\n${escapeMrkdwn(view.status)}${view.timeLeft ? `, *${view.timeLeft} left*` : ''}`,
    (view) => view.state === 'active'
      ? [{ text: 'Extend', actionId: ACTION.extend, value: view.id }, { text: 'Revoke', actionId: ACTION.revoke, value: view.id, style: 'danger' }]
      : [],
    'home-active').filter((block) => block.type !== 'actions' || ('elements' in block && block.elements.length > 0))));
  blocks.push(header('Your pending requests'));
  blocks.push(...(input.pending.length === 0 ? [context('Nothing waiting.')] : entries(input.pending,
    (view) => `*${view.id}* ${escapeMrkdwn(view.title)} for ${view.duration}\n${escapeMrkdwn(view.status)}`,
    (view) => [{ text: 'Cancel', actionId: ACTION.cancel, value: view.id }],
    'home-pending')));
  blocks.push(header('Waiting for your approval'));
  blocks.push(...(input.approvals.length === 0 ? [context('No requests need your decision.')] : entries(input.approvals,
    (view) => `*${view.id}* ${escapeMrkdwn(view.requester)}: ${escapeMrkdwn(view.title)} for ${view.duration}\n_${view.reason ? escapeMrkdwn(view.reason) : 'no reason given'}_`,
    (view) => [{ text: 'Approve', actionId: ACTION.approve, value: view.id, style: 'primary' }, { text: 'Deny', actionId: ACTION.deny, value: view.id, style: 'danger' }],
    'home-approve')));
  return { type: 'home', blocks: blocks.slice(0, 100) };
}
