import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import { clip, option, plain } from './block-kit.js';

export const VIEW = {
  request: 'latch.request',
  denyReason: 'latch.deny_reason',
  extend: 'latch.extend_submit',
} as const;

export const FIELD = {
  target: { block: 'target', action: 'target' },
  duration: { block: 'duration', action: 'duration' },
  reason: { block: 'reason', action: 'reason' },
} as const;

/** One choice in the request modal: a resource + permission, or a bundle, that this person may request. */
export interface RequestChoice {
  label: string;
  value: string;
}

export function durationOptions(durations: string[]): PlainTextOption[] {
  return durations.map((text) => option(text, text));
}

export interface RequestModalInput {
  choices: RequestChoice[];
  durations: PlainTextOption[];
  initialChoice?: string;
  initialDuration?: string;
  initialReason?: string;
  reasonRequired: boolean;
  /** The reason field's label (a flow's prompt, e.g. "Ticket or incident id"). */
  reasonPrompt?: string;
  /** Warnings to show above the form, e.g. an integration that is down. */
  notices?: string[];
  /** Opaque: the channel to confirm in; never trusted for anything else. */
  privateMetadata: string;
}

export function requestModal(input: RequestModalInput): ModalView {
  const options = input.choices.slice(0, 100).map((choice) => option(choice.label, choice.value));
  const initialOption = options.find((candidate) => candidate.value === input.initialChoice);
  const initialDuration = input.durations.find((candidate) => candidate.value === input.initialDuration);
  const blocks: KnownBlock[] = [
    ...(input.notices ?? []).slice(0, 5).map((notice): KnownBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(`:warning: ${notice.replace(/[<>&]/g, '')}`, 2000) }] })),
    {
      type: 'input', block_id: FIELD.target.block, label: plain('What do you need?'),
      element: { type: 'static_select', action_id: FIELD.target.action, placeholder: plain('Resource and permission, or a bundle'), options, ...(initialOption ? { initial_option: initialOption } : {}) },
    },
    {
      type: 'input', block_id: FIELD.duration.block, label: plain('For how long?'),
      element: { type: 'static_select', action_id: FIELD.duration.action, options: input.durations, ...(initialDuration ? { initial_option: initialDuration } : {}) },
    },
    {
      type: 'input', block_id: FIELD.reason.block, label: plain(input.reasonPrompt ?? 'Why do you need it?', 2000), optional: !input.reasonRequired,
      element: { type: 'plain_text_input', action_id: FIELD.reason.action, multiline: true, max_length: 1000, ...(input.initialReason ? { initial_value: clip(input.initialReason, 1000) } : {}), placeholder: plain('Ticket or incident, and what you will do') },
    },
  ];
  if (input.choices.length > 100) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Showing the first 100 of ${input.choices.length} choices; type \`/access request RESOURCE PERMISSION\` for the others.` }] });
  }
  return {
    type: 'modal', callback_id: VIEW.request, title: plain('Request access', 24), submit: plain('Request', 24), close: plain('Cancel', 24),
    private_metadata: clip(input.privateMetadata, 3000), blocks,
  };
}

export function denyModal(requestId: string, title: string): ModalView {
  return {
    type: 'modal', callback_id: VIEW.denyReason, title: plain('Deny request', 24), submit: plain('Deny', 24), close: plain('Back', 24),
    private_metadata: requestId,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(`Deny *${requestId}*: ${title}`, 3000) } },
      { type: 'input', block_id: FIELD.reason.block, label: plain('Reason (shown to the requester)'), optional: true, element: { type: 'plain_text_input', action_id: FIELD.reason.action, multiline: true, max_length: 1000 } },
    ],
  };
}

export function extendModal(requestId: string, title: string, durations: PlainTextOption[], reasonRequired: boolean): ModalView {
  return {
    type: 'modal', callback_id: VIEW.extend, title: plain('Extend access', 24), submit: plain('Extend', 24), close: plain('Cancel', 24),
    private_metadata: requestId,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(`Extend *${requestId}*: ${title}`, 3000) } },
      { type: 'input', block_id: FIELD.duration.block, label: plain('How much longer?'), element: { type: 'static_select', action_id: FIELD.duration.action, options: durations } },
      { type: 'input', block_id: FIELD.reason.block, label: plain('Why?'), optional: !reasonRequired, element: { type: 'plain_text_input', action_id: FIELD.reason.action, multiline: true, max_length: 1000 } },
    ],
  };
}
