// Small Block Kit builders that keep every element inside Slack's limits.
import type { Block, KnownBlock, PlainTextOption } from '@slack/types';

export type SlackBlock = KnownBlock | Block;

/** Slack mrkdwn control characters: text people typed must never become a mention or a link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export const plain = (text: string, max = 3000): { type: 'plain_text'; text: string; emoji: true } => ({ type: 'plain_text', text: clip(text, max), emoji: true });
export const mrkdwn = (text: string, max = 3000): { type: 'mrkdwn'; text: string } => ({ type: 'mrkdwn', text: clip(text, max) });

export function section(text: string, blockId?: string): KnownBlock {
  return { type: 'section', text: mrkdwn(text), ...(blockId ? { block_id: blockId } : {}) };
}

export function fields(pairs: [string, string][]): KnownBlock {
  return { type: 'section', fields: pairs.slice(0, 10).map(([label, value]) => mrkdwn(`*${label}*\n${value}`, 2000)) };
}

export function context(text: string): KnownBlock {
  return { type: 'context', elements: [mrkdwn(text)] };
}

export function header(text: string): KnownBlock {
  return { type: 'header', text: plain(text, 150) };
}

export interface ButtonSpec {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
}

export function actions(blockId: string, buttons: ButtonSpec[]): KnownBlock {
  return {
    type: 'actions',
    block_id: blockId,
    elements: buttons.slice(0, 25).map((button) => ({
      type: 'button', text: plain(button.text, 75), action_id: button.actionId, value: button.value, ...(button.style ? { style: button.style } : {}),
    })),
  };
}

export function option(text: string, value: string): PlainTextOption {
  return { text: plain(text, 75), value: clip(value, 150) };
}
