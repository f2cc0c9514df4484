// A local stand-in for Slack's Web API: real HTTP on 127.0.0.1, the methods Latch uses,
// realistic answers, and Slack's own refusals (Block Kit limits, single-use trigger ids,
// rate limits) so an end-to-end test fails where production would.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type JsonObject = Record<string, unknown>;
export type Surface = 'message' | 'modal' | 'home';

// ---------------------------------------------------------------------------------------------
// Block Kit validation
// ---------------------------------------------------------------------------------------------

/** Slack's documented limits, in one place so tests can build cases just over them. */
export const SLACK_LIMITS = {
  messageText: 4_000,
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3_000,
  sectionFields: 10,
  sectionFieldText: 2_000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2_000,
  url: 3_000,
  actionId: 255,
  blockId: 255,
  selectOptions: 100,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
  placeholder: 150,
  inputLabel: 2_000,
  inputHint: 2_000,
  plainTextInputLength: 3_000,
  contextElements: 10,
  actionsElements: 25,
  checkboxOptions: 10,
  overflowOptions: 5,
  modalTitle: 24,
  modalButton: 24,
  callbackId: 255,
  externalId: 255,
  privateMetadata: 3_000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  imageAltText: 2_000,
  markdownText: 12_000,
} as const;

export interface ValidateOptions {
  /** JSON pointer of the blocks array in error messages (default `/blocks`; views use `/view/blocks`). */
  pointer?: string;
  /**
   * Where an action_id must be unique. Slack documents "unique among all other action_ids in the
   * containing block" (default `'block'`); `'surface'` also refuses repeats across blocks.
   */
  actionIdScope?: 'block' | 'surface';
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

const SELECTS = new Set([
  'static_select', 'external_select', 'users_select', 'conversations_select', 'channels_select',
  'multi_static_select', 'multi_external_select', 'multi_users_select', 'multi_conversations_select', 'multi_channels_select',
]);
const INPUTS = new Set(['plain_text_input', 'email_text_input', 'url_text_input', 'number_input', 'rich_text_input', 'file_input']);
const PICKERS = new Set(['datepicker', 'timepicker', 'datetimepicker']);
const CHOICES = new Set(['checkboxes', 'radio_buttons']);
const ACTIONS_ELEMENTS = new Set(['button', 'overflow', 'workflow_button', ...SELECTS, ...PICKERS, ...CHOICES, 'rich_text_input']);
const ACCESSORY_ELEMENTS = new Set(['button', 'overflow', 'image', 'workflow_button', ...SELECTS, ...PICKERS, ...CHOICES]);
const INPUT_ELEMENTS = new Set([...INPUTS, ...SELECTS, ...PICKERS, ...CHOICES]);
const BLOCK_TYPES = new Set(['section', 'divider', 'image', 'actions', 'context', 'input', 'header', 'rich_text', 'video', 'file', 'markdown', 'context_actions', 'table']);

class BlockValidator {
  readonly errors: string[] = [];
  private readonly blockIds = new Set<string>();
  private readonly surfaceActionIds = new Set<string>();

  constructor(private readonly surface: Surface, private readonly actionIdScope: 'block' | 'surface') {}

  private fail(path: string, message: string): void {
    this.errors.push(`${message} [json-pointer:${path}]`);
  }

  /** A string field: present (when required), a string, and within its length. */
  private string(owner: JsonObject, key: string, path: string, rule: { max: number; required?: boolean; min?: number }): string | undefined {
    const value = owner[key];
    if (value === undefined || value === null) {
      if (rule.required) this.fail(`${path}/${key}`, 'missing required field');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail(`${path}/${key}`, 'must be a string');
      return undefined;
    }
    if (value.length > rule.max) this.fail(`${path}/${key}`, `must be less than ${rule.max + 1} characters`);
    if (rule.min !== undefined && value.length < rule.min) this.fail(`${path}/${key}`, `must be more than ${rule.min - 1} characters`);
    return value;
  }

  /** A composition text object: `{ type: 'plain_text' | 'mrkdwn', text }`, non-empty, within `max`. */
  text(value: unknown, path: string, rule: { max: number; plainOnly?: boolean; required?: boolean }): void {
    if (value === undefined || value === null) {
      if (rule.required) this.fail(path, 'missing required field');
      return;
    }
    if (!isObject(value)) {
      this.fail(path, 'must be a text object');
      return;
    }
    const type = value.type;
    if (type !== 'plain_text' && type !== 'mrkdwn') {
      this.fail(`${path}/type`, 'must be one of [plain_text, mrkdwn]');
    } else if (rule.plainOnly && type !== 'plain_text') {
      this.fail(`${path}/type`, 'must be plain_text');
    }
    const text = value.text;
    if (typeof text !== 'string') {
      this.fail(`${path}/text`, text === undefined ? 'missing required field' : 'must be a string');
      return;
    }
    if (text.length === 0) this.fail(`${path}/text`, 'must be more than 0 characters');
    if (text.length > rule.max) this.fail(`${path}/text`, `must be less than ${rule.max + 1} characters`);
  }

  blocks(value: unknown, path: string): void {
    if (!Array.isArray(value)) {
      this.fail(path, 'must be an array');
      return;
    }
    const max = this.surface === 'message' ? SLACK_LIMITS.messageBlocks : SLACK_LIMITS.viewBlocks;
    if (value.length > max) this.fail(path, `no more than ${max} items allowed`);
    value.forEach((block, index) => this.block(block, `${path}/${index}`));
  }

  private block(block: unknown, path: string): void {
    if (!isObject(block)) {
      this.fail(path, 'must be an object');
      return;
    }
    const type = block.type;
    if (typeof type !== 'string' || !BLOCK_TYPES.has(type)) {
      this.fail(`${path}/type`, `unsupported block type: ${String(type)}`);
      return;
    }
    const blockId = this.string(block, 'block_id', path, { max: SLACK_LIMITS.blockId, min: 1 });
    if (blockId !== undefined) {
      if (this.blockIds.has(blockId)) this.fail(`${path}/block_id`, `duplicate block_id: ${blockId}`);
      this.blockIds.add(blockId);
    }
    const actionIds = new Set<string>();
    switch (type) {
      case 'section': {
        if (block.text === undefined && block.fields === undefined) this.fail(path, 'must provide either text or fields');
        this.text(block.text, `${path}/text`, { max: SLACK_LIMITS.sectionText });
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields)) this.fail(`${path}/fields`, 'must be an array');
          else {
            if (block.fields.length > SLACK_LIMITS.sectionFields) this.fail(`${path}/fields`, `no more than ${SLACK_LIMITS.sectionFields} items allowed`);
            if (block.fields.length === 0) this.fail(`${path}/fields`, 'must have at least 1 item');
            block.fields.forEach((field: unknown, i: number) => this.text(field, `${path}/fields/${i}`, { max: SLACK_LIMITS.sectionFieldText, required: true }));
          }
        }
        if (block.accessory !== undefined) this.element(block.accessory, `${path}/accessory`, ACCESSORY_ELEMENTS, actionIds);
        break;
      }
      case 'header':
        this.text(block.text, `${path}/text`, { max: SLACK_LIMITS.headerText, plainOnly: true, required: true });
        break;
      case 'divider':
        break;
      case 'context': {
        const elements = block.elements;
        if (!Array.isArray(elements)) {
          this.fail(`${path}/elements`, elements === undefined ? 'missing required field' : 'must be an array');
          break;
        }
        if (elements.length === 0) this.fail(`${path}/elements`, 'must have at least 1 item');
        if (elements.length > SLACK_LIMITS.contextElements) this.fail(`${path}/elements`, `no more than ${SLACK_LIMITS.contextElements} items allowed`);
        elements.forEach((element: unknown, i: number) => {
          const at = `${path}/elements/${i}`;
          if (isObject(element) && element.type === 'image') this.image(element, at);
          else this.text(element, at, { max: SLACK_LIMITS.sectionText, required: true });
        });
        break;
      }
      case 'actions': {
        const elements = block.elements;
        if (!Array.isArray(elements)) {
          this.fail(`${path}/elements`, elements === undefined ? 'missing required field' : 'must be an array');
          break;
        }
        if (elements.length === 0) this.fail(`${path}/elements`, 'must have at least 1 item');
        if (elements.length > SLACK_LIMITS.actionsElements) this.fail(`${path}/elements`, `no more than ${SLACK_LIMITS.actionsElements} items allowed`);
        elements.forEach((element: unknown, i: number) => this.element(element, `${path}/elements/${i}`, ACTIONS_ELEMENTS, actionIds));
        break;
      }
      case 'input': {
        this.text(block.label, `${path}/label`, { max: SLACK_LIMITS.inputLabel, plainOnly: true, required: true });
        this.text(block.hint, `${path}/hint`, { max: SLACK_LIMITS.inputHint, plainOnly: true });
        if (block.element === undefined) this.fail(`${path}/element`, 'missing required field');
        else this.element(block.element, `${path}/element`, INPUT_ELEMENTS, actionIds);
        if (block.optional !== undefined && typeof block.optional !== 'boolean') this.fail(`${path}/optional`, 'must be a boolean');
        break;
      }
      case 'image':
        this.image(block, path);
        this.text(block.title, `${path}/title`, { max: SLACK_LIMITS.imageAltText, plainOnly: true });
        break;
      case 'markdown':
        this.string(block, 'text', path, { max: SLACK_LIMITS.markdownText, required: true, min: 1 });
        break;
      default:
        // rich_text, video, file, ...: accepted without looking deeper.
        break;
    }
  }

  private image(image: JsonObject, path: string): void {
    if (image.image_url === undefined && image.slack_file === undefined) this.fail(`${path}/image_url`, 'missing required field');
    this.string(image, 'image_url', path, { max: SLACK_LIMITS.url, min: 1 });
    this.string(image, 'alt_text', path, { max: SLACK_LIMITS.imageAltText, required: true, min: 1 });
  }

  private actionId(element: JsonObject, path: string, blockActionIds: Set<string>): void {
    const actionId = this.string(element, 'action_id', path, { max: SLACK_LIMITS.actionId, min: 1 });
    if (actionId === undefined) return;
    if (blockActionIds.has(actionId) || (this.actionIdScope === 'surface' && this.surfaceActionIds.has(actionId))) {
      this.fail(`${path}/action_id`, `duplicate action_id: ${actionId}`);
    }
    blockActionIds.add(actionId);
    this.surfaceActionIds.add(actionId);
  }

  private element(element: unknown, path: string, allowed: Set<string>, blockActionIds: Set<string>): void {
    if (!isObject(element)) {
      this.fail(path, 'must be an object');
      return;
    }
    const type = element.type;
    if (typeof type !== 'string' || !allowed.has(type)) {
      this.fail(`${path}/type`, `element type ${String(type)} is not allowed here`);
      return;
    }
    if (type === 'image') {
      this.image(element, path);
      return;
    }
    this.actionId(element, path, blockActionIds);
    if (element.confirm !== undefined) this.confirm(element.confirm, `${path}/confirm`);
    this.text(element.placeholder, `${path}/placeholder`, { max: SLACK_LIMITS.placeholder, plainOnly: true });

    if (type === 'button' || type === 'workflow_button') {
      this.text(element.text, `${path}/text`, { max: SLACK_LIMITS.buttonText, plainOnly: true, required: true });
      this.string(element, 'value', path, { max: SLACK_LIMITS.buttonValue });
      this.string(element, 'url', path, { max: SLACK_LIMITS.url });
      this.string(element, 'accessibility_label', path, { max: SLACK_LIMITS.buttonText });
      if (element.style !== undefined && element.style !== 'primary' && element.style !== 'danger') this.fail(`${path}/style`, 'must be one of [primary, danger]');
      return;
    }
    if (type === 'static_select' || type === 'multi_static_select') {
      const values = this.optionList(element, path, SLACK_LIMITS.selectOptions, true);
      this.initialOptions(element, path, values);
      return;
    }
    if (type === 'overflow') {
      this.optionList(element, path, SLACK_LIMITS.overflowOptions, true, true);
      return;
    }
    if (CHOICES.has(type)) {
      const values = this.optionList(element, path, SLACK_LIMITS.checkboxOptions, false);
      this.initialOptions(element, path, values);
      return;
    }
    if (type === 'plain_text_input') {
      const max = element.max_length;
      const min = element.min_length;
      if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > SLACK_LIMITS.plainTextInputLength)) {
        this.fail(`${path}/max_length`, `must be an integer between 1 and ${SLACK_LIMITS.plainTextInputLength}`);
      }
      if (min !== undefined && (typeof min !== 'number' || !Number.isInteger(min) || min < 0 || min > SLACK_LIMITS.plainTextInputLength)) {
        this.fail(`${path}/min_length`, `must be an integer between 0 and ${SLACK_LIMITS.plainTextInputLength}`);
      }
      if (typeof min === 'number' && typeof max === 'number' && min > max) this.fail(`${path}/min_length`, 'must not be greater than max_length');
      const initial = this.string(element, 'initial_value', path, { max: SLACK_LIMITS.plainTextInputLength });
      if (initial !== undefined && typeof max === 'number' && initial.length > max) this.fail(`${path}/initial_value`, 'must not be longer than max_length');
      return;
    }
    if (type === 'datepicker' && element.initial_date !== undefined) {
      if (typeof element.initial_date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(element.initial_date)) this.fail(`${path}/initial_date`, 'must be in the format YYYY-MM-DD');
    }
    if (type === 'timepicker' && element.initial_time !== undefined) {
      if (typeof element.initial_time !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(element.initial_time)) this.fail(`${path}/initial_time`, 'must be in the format HH:mm');
    }
  }

  /** `options` / `option_groups` of a select-like element; returns the option values seen. */
  private optionList(element: JsonObject, path: string, max: number, plainOnly: boolean, allowUrl = false): Set<string> {
    const values = new Set<string>();
    const check = (list: unknown, at: string): void => {
      if (!Array.isArray(list)) {
        this.fail(at, 'must be an array');
        return;
      }
      if (list.length === 0) this.fail(at, 'must have at least 1 item');
      if (list.length > max) this.fail(at, `no more than ${max} items allowed`);
      list.forEach((option: unknown, i: number) => {
        const value = this.option(option, `${at}/${i}`, plainOnly, allowUrl);
        if (value !== undefined) values.add(value);
      });
    };
    if (element.options !== undefined) check(element.options, `${path}/options`);
    if (element.option_groups !== undefined) {
      if (element.options !== undefined) this.fail(path, 'must not have both options and option_groups');
      const groups = element.option_groups;
      if (!Array.isArray(groups)) this.fail(`${path}/option_groups`, 'must be an array');
      else {
        if (groups.length > SLACK_LIMITS.selectOptions) this.fail(`${path}/option_groups`, `no more than ${SLACK_LIMITS.selectOptions} items allowed`);
        groups.forEach((group: unknown, i: number) => {
          const at = `${path}/option_groups/${i}`;
          if (!isObject(group)) {
            this.fail(at, 'must be an object');
            return;
          }
          this.text(group.label, `${at}/label`, { max: SLACK_LIMITS.optionText, plainOnly: true, required: true });
          check(group.options, `${at}/options`);
        });
      }
    }
    if (element.options === undefined && element.option_groups === undefined) this.fail(`${path}/options`, 'missing required field');
    return values;
  }

  private option(option: unknown, path: string, plainOnly: boolean, allowUrl: boolean): string | undefined {
    if (!isObject(option)) {
      this.fail(path, 'must be an object');
      return undefined;
    }
    this.text(option.text, `${path}/text`, { max: SLACK_LIMITS.optionText, plainOnly, required: true });
    this.text(option.description, `${path}/description`, { max: SLACK_LIMITS.optionDescription, plainOnly });
    if (allowUrl) this.string(option, 'url', path, { max: SLACK_LIMITS.url });
    return this.string(option, 'value', path, { max: SLACK_LIMITS.optionValue, required: true, min: 1 });
  }

  /** Slack refuses an initial option that is not one of the element's options. */
  private initialOptions(element: JsonObject, path: string, values: Set<string>): void {
    const check = (option: unknown, at: string): void => {
      if (!isObject(option) || typeof option.value !== 'string' || !values.has(option.value)) this.fail(at, 'must match one of the options');
    };
    if (element.initial_option !== undefined) check(element.initial_option, `${path}/initial_option`);
    if (Array.isArray(element.initial_options)) element.initial_options.forEach((option: unknown, i: number) => check(option, `${path}/initial_options/${i}`));
  }

  private confirm(confirm: unknown, path: string): void {
    if (!isObject(confirm)) {
      this.fail(path, 'must be an object');
      return;
    }
    this.text(confirm.title, `${path}/title`, { max: SLACK_LIMITS.confirmTitle, plainOnly: true, required: true });
    this.text(confirm.text, `${path}/text`, { max: SLACK_LIMITS.confirmText, required: true });
    this.text(confirm.confirm, `${path}/confirm`, { max: SLACK_LIMITS.confirmButton, plainOnly: true, required: true });
    this.text(confirm.deny, `${path}/deny`, { max: SLACK_LIMITS.confirmButton, plainOnly: true, required: true });
    if (confirm.style !== undefined && confirm.style !== 'primary' && confirm.style !== 'danger') this.fail(`${path}/style`, 'must be one of [primary, danger]');
  }
}

/**
 * Block Kit as Slack checks it: returns one string per problem, each naming where it is
 * (`... [json-pointer:/blocks/2/text/text]`); an empty array means Slack would accept the blocks.
 */
export function validateBlocks(blocks: unknown, surface: Surface, options: ValidateOptions = {}): string[] {
  const validator = new BlockValidator(surface, options.actionIdScope ?? 'block');
  validator.blocks(blocks, options.pointer ?? '/blocks');
  return validator.errors;
}

/**
 * A whole view (`views.open/push/update/publish`): its type, title, buttons, ids, metadata and blocks.
 * Blocks errors point under `/view/blocks`.
 */
export function validateView(view: unknown, surface: 'modal' | 'home', options: Omit<ValidateOptions, 'pointer'> = {}): string[] {
  if (!isObject(view)) return ['must be a view object [json-pointer:/view]'];
  const validator = new BlockValidator(surface, options.actionIdScope ?? 'block');
  const errors: string[] = [];
  const fail = (field: string, message: string): void => { errors.push(`${message} [json-pointer:/view/${field}]`); };
  const length = (field: string, max: number): void => {
    const value = view[field];
    if (value === undefined || value === null) return;
    if (typeof value !== 'string') fail(field, 'must be a string');
    else if (value.length > max) fail(field, `must be less than ${max + 1} characters`);
  };
  if (view.type !== surface) fail('type', `must be ${surface}`);
  if (surface === 'modal') {
    validator.text(view.title, '/view/title', { max: SLACK_LIMITS.modalTitle, plainOnly: true, required: true });
    validator.text(view.submit, '/view/submit', { max: SLACK_LIMITS.modalButton, plainOnly: true });
    validator.text(view.close, '/view/close', { max: SLACK_LIMITS.modalButton, plainOnly: true });
    const hasInput = Array.isArray(view.blocks) && view.blocks.some((block: unknown) => isObject(block) && block.type === 'input');
    if (hasInput && view.submit === undefined) fail('submit', 'a view with input blocks must have a submit button');
  }
  length('callback_id', SLACK_LIMITS.callbackId);
  length('private_metadata', SLACK_LIMITS.privateMetadata);
  length('external_id', SLACK_LIMITS.externalId);
  if (view.blocks === undefined) fail('blocks', 'missing required field');
  else validator.blocks(view.blocks, '/view/blocks');
  return [...errors, ...validator.errors];
}

// ---------------------------------------------------------------------------------------------
// Reading what Latch posted
// ---------------------------------------------------------------------------------------------

/** Every human-readable string in a message or view (its `text` and every text object), joined by newlines. */
export function flattenText(value: unknown): string {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isObject(node)) {
      for (const [key, child] of Object.entries(node)) {
        if (key === 'text' && typeof child === 'string') out.push(child);
        else walk(child);
      }
    }
  };
  walk(value);
  return out.join('\n');
}

export interface FoundAction {
  blockId: string | undefined;
  actionId: string;
  type: string;
  value: string | undefined;
  text: string | undefined;
  style: string | undefined;
}

/** The interactive elements (buttons, selects, ...) in blocks, a message or a view: what a person could click. */
export function actionsIn(source: unknown): FoundAction[] {
  const blocks = Array.isArray(source) ? source : isObject(source) && Array.isArray(source.blocks) ? source.blocks : [];
  const found: FoundAction[] = [];
  const add = (element: unknown, blockId: string | undefined): void => {
    if (!isObject(element) || typeof element.action_id !== 'string') return;
    const text = isObject(element.text) && typeof element.text.text === 'string' ? element.text.text : undefined;
    found.push({
      blockId,
      actionId: element.action_id,
      type: typeof element.type === 'string' ? element.type : 'unknown',
      value: typeof element.value === 'string' ? element.value : undefined,
      text,
      style: typeof element.style === 'string' ? element.style : undefined,
    });
  };
  for (const block of blocks) {
    if (!isObject(block)) continue;
    const blockId = typeof block.block_id === 'string' ? block.block_id : undefined;
    if (Array.isArray(block.elements)) block.elements.forEach((element: unknown) => add(element, blockId));
    add(block.accessory, blockId);
    add(block.element, blockId);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The double
// ---------------------------------------------------------------------------------------------

export interface SlackUserSpec {
  id: string;
  name?: string;
  email?: string;
  realName?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_admin?: boolean;
  tz?: string;
}

/** A Slack user group (`@db-oncall`): its handle and the ids of its members. */
export interface SlackUserGroupSpec {
  id: string;
  handle: string;
  name?: string;
  users: string[];
}

export interface SlackChannelSpec {
  id: string;
  name?: string;
  /** When false, posting answers `not_in_channel` (the bot was never invited). Default true. */
  botIsMember?: boolean;
}

export interface SlackDoubleOptions {
  /** The exact bot token to accept; any other `xoxb-` token is `invalid_auth`. Default: any `xoxb-` token. */
  token?: string;
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  users?: SlackUserSpec[];
  channels?: Array<string | SlackChannelSpec>;
  /** Refuse (`channel_not_found`) public/private channel ids that were not added. Default false: any C…/G… id exists. */
  strictChannels?: boolean;
  /** How long an issued trigger id stays usable. Default 3000 (Slack's 3 s). */
  triggerTtlMs?: number;
  /** Longest message `text` accepted; longer is `msg_too_long`. Default 4000. */
  maxTextLength?: number;
  /** See ValidateOptions.actionIdScope. Default 'block'. */
  actionIdScope?: 'block' | 'surface';
  /** The double's clock (trigger expiry, `at` of calls). Default Date.now. */
  now?: () => number;
}

export interface SlackCall {
  method: string;
  /** The decoded arguments: JSON-in-form fields (`blocks`, `view`, ...) parsed back into objects. */
  args: JsonObject;
  at: number;
  /** The bearer token sent, if any. */
  token: string | undefined;
  /** HTTP status answered (200, or 429 when rate limited). */
  status: number;
  ok: boolean;
  error: string | undefined;
  response: JsonObject;
}

export interface SlackWarning {
  method: string;
  message: string;
  at: number;
}

export interface SlackMessageRecord {
  channel: string;
  ts: string;
  text: string | undefined;
  blocks: unknown[] | undefined;
  threadTs: string | undefined;
  /** Times chat.update changed it. */
  updates: number;
}

export interface SlackMessageVersion {
  text: string | undefined;
  blocks: unknown[] | undefined;
  at: number;
}

export interface SlackEphemeralRecord {
  channel: string;
  user: string;
  messageTs: string;
  text: string | undefined;
  blocks: unknown[] | undefined;
  at: number;
}

export interface SlackViewRecord {
  id: string;
  type: 'modal' | 'home';
  /** The view as Slack would return it (id, hash, blocks, title, private_metadata, ...). */
  view: JsonObject;
  /** The user a trigger id was issued for, or the user a home view was published to. */
  user: string | undefined;
  closed: boolean;
  /** Times views.update changed it. */
  updates: number;
}

export interface ResponseUrlPost {
  url: string;
  body: JsonObject;
  at: number;
}

type Injection =
  | { kind: 'ratelimit'; retryAfter: number; remaining: number }
  | { kind: 'fail'; error: string; remaining: number }
  | { kind: 'delay'; ms: number; remaining: number };

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body: JsonObject;
}

interface Waiter {
  method: string;
  predicate: (call: SlackCall) => boolean;
  resolve: (call: SlackCall) => void;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata', 'unfurls', 'user_auth_blocks']);
const TS_BASE_SECONDS = 1_700_000_000;
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;

function platformError(error: string, messages?: string[]): Answer {
  return { body: { ok: false, error, ...(messages && messages.length > 0 ? { response_metadata: { messages: messages.map((m) => `[ERROR] ${m}`) } } : {}) } };
}

function stringArg(args: JsonObject, key: string): string | undefined {
  const value = args[key];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

export class SlackDouble {
  readonly calls: SlackCall[] = [];
  readonly warnings: SlackWarning[] = [];
  readonly messages = new Map<string, SlackMessageRecord>();
  readonly deletedMessages: SlackMessageRecord[] = [];
  readonly ephemerals: SlackEphemeralRecord[] = [];
  readonly views = new Map<string, SlackViewRecord>();
  readonly responses: ResponseUrlPost[] = [];
  /** Base URL of the Web API, ending in `/api/`: pass it as `slackApiUrl`. */
  readonly apiUrl: string;
  /** Same as apiUrl. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`, without a path. */
  readonly origin: string;

  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;

  private readonly users = new Map<string, SlackUserSpec>();
  private readonly channels = new Map<string, SlackChannelSpec>();
  private readonly userGroups = new Map<string, SlackUserGroupSpec>();
  private readonly homes = new Map<string, string>();
  private readonly openDms = new Set<string>();
  private readonly histories = new Map<string, SlackMessageVersion[]>();
  private readonly triggers = new Map<string, { issuedAt: number; used: boolean; user: string | undefined }>();
  private readonly responseUrls = new Map<string, { issuedAt: number; uses: number }>();
  private readonly injections = new Map<string, Injection[]>();
  private socketUrl: ((token: string) => string | null) | undefined;
  private waiters: Waiter[] = [];
  private responseWaiters: Array<{ predicate: (post: ResponseUrlPost) => boolean; resolve: (post: ResponseUrlPost) => void }> = [];
  private tsCounter = 0;
  private idCounter = 0;
  private readonly now: () => number;

  constructor(private readonly server: ReturnType<typeof createServer>, port: number, private readonly options: SlackDoubleOptions) {
    this.origin = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.origin}/api/`;
    this.url = this.apiUrl;
    this.teamId = options.teamId ?? 'T1';
    this.teamDomain = options.teamDomain ?? 'latch-test';
    this.botUserId = options.botUserId ?? 'UBOT';
    this.botId = options.botId ?? 'BBOT';
    this.appId = options.appId ?? 'A0LATCH';
    this.now = options.now ?? Date.now;
    for (const user of options.users ?? []) this.addUser(user);
    for (const channel of options.channels ?? []) this.addChannel(typeof channel === 'string' ? { id: channel } : channel);
  }

  // ----- setup -----------------------------------------------------------------------------

  addUser(user: SlackUserSpec): this {
    this.users.set(user.id, user);
    return this;
  }

  /**
   * Changes a user as a profile edit would (users.info and lookupByEmail answer the new
   * values) and returns the user object Slack puts in the `user_change` event it sends.
   */
  updateUser(id: string, changes: Partial<Omit<SlackUserSpec, 'id'>>): JsonObject {
    const user = this.users.get(id);
    if (!user) throw new Error(`no Slack user ${id} in the double`);
    const updated = { ...user, ...changes };
    this.users.set(id, updated);
    return this.userObject(updated);
  }

  addUserGroup(group: SlackUserGroupSpec): this {
    this.userGroups.set(group.id, group);
    return this;
  }

  addChannel(channel: SlackChannelSpec | string): this {
    const spec = typeof channel === 'string' ? { id: channel } : channel;
    this.channels.set(spec.id, spec);
    return this;
  }

  /** Mints a trigger id as Slack puts in an interaction payload: usable once, for triggerTtlMs. */
  issueTrigger(userId?: string): string {
    const id = `${1_000_000_000_000 + this.nextId()}.47445629121.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { issuedAt: this.now(), used: false, user: userId });
    return id;
  }

  /**
   * Mints a response_url served by this double (5 uses within 30 minutes, like Slack's). Each post
   * is recorded in `responses` and as a call with method `'response_url'` and args `{ url, ...body }`.
   */
  responseUrl(): string {
    const id = `${this.teamId}/${1_000_000_000 + this.nextId()}/${randomBytes(12).toString('hex')}`;
    this.responseUrls.set(id, { issuedAt: this.now(), uses: 0 });
    return `${this.origin}/commands/${id}`;
  }

  /** Same as responseUrl(). */
  issueResponseUrl(): string {
    return this.responseUrl();
  }

  /** The next `times` calls to `method` answer HTTP 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitNext(method: string, retryAfterSeconds = 1, times = 1): void {
    this.inject(method, { kind: 'ratelimit', retryAfter: retryAfterSeconds, remaining: times });
  }

  /** The next `times` calls to `method` answer HTTP 200 `{ ok: false, error }`. */
  failNext(method: string, error = 'internal_error', times = 1): void {
    this.inject(method, { kind: 'fail', error, remaining: times });
  }

  /** The next `times` calls to `method` are answered only after `ms` (a slow Slack). */
  delayNext(method: string, ms: number, times = 1): void {
    this.inject(method, { kind: 'delay', ms, remaining: times });
  }

  /** As if the person closed the modal: views.update on it answers `not_found`. */
  closeView(viewId: string): void {
    const record = this.views.get(viewId);
    if (record) record.closed = true;
  }

  /** Forgets recorded calls, warnings, response_url posts and pending injections; `{ state: true }` also forgets messages, views and homes. */
  reset(options: { state?: boolean } = {}): void {
    this.calls.length = 0;
    this.warnings.length = 0;
    this.responses.length = 0;
    this.injections.clear();
    if (options.state) {
      this.messages.clear();
      this.histories.clear();
      this.deletedMessages.length = 0;
      this.ephemerals.length = 0;
      this.views.clear();
      this.homes.clear();
      this.triggers.clear();
    }
  }

  // ----- reading ---------------------------------------------------------------------------

  callsTo(method: string): SlackCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Resolves with the first call (already seen or still to come) to `method` matching `predicate`. */
  waitFor(method: string, predicate: (call: SlackCall) => boolean = () => true, timeoutMs = 5_000): Promise<SlackCall> {
    const seen = this.calls.find((call) => call.method === method && predicate(call));
    if (seen) return Promise.resolve(seen);
    return new Promise<SlackCall>((resolve, reject) => {
      const waiter: Waiter = {
        method,
        predicate,
        resolve: (call) => {
          clearTimeout(timer);
          resolve(call);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching ${method} call within ${timeoutMs} ms. Calls seen:\n${this.describeCalls()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the first post to an issued response_url matching `predicate`. */
  waitForResponse(predicate: (post: ResponseUrlPost) => boolean = () => true, timeoutMs = 5_000): Promise<ResponseUrlPost> {
    const seen = this.responses.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<ResponseUrlPost>((resolve, reject) => {
      const entry = {
        predicate,
        resolve: (post: ResponseUrlPost) => {
          clearTimeout(timer);
          resolve(post);
        },
      };
      const timer = setTimeout(() => {
        this.responseWaiters = this.responseWaiters.filter((w) => w !== entry);
        reject(new Error(`no matching response_url post within ${timeoutMs} ms. Posts seen: ${this.responses.length}; calls seen:\n${this.describeCalls()}`));
      }, timeoutMs);
      this.responseWaiters.push(entry);
    });
  }

  /** One line per recorded call: method, outcome and a short view of its text. */
  describeCalls(): string {
    if (this.calls.length === 0) return '  (none)';
    return this.calls.map((call) => {
      const outcome = call.ok ? 'ok' : `${call.status} ${call.error ?? ''}`.trim();
      const text = flattenText({ text: call.args.text, blocks: call.args.blocks, view: call.args.view }).replace(/\s+/g, ' ').slice(0, 120);
      const target = stringArg(call.args, 'channel') ?? stringArg(call.args, 'user_id') ?? stringArg(call.args, 'user') ?? stringArg(call.args, 'users') ?? stringArg(call.args, 'view_id') ?? '';
      return `  ${call.method} ${target} -> ${outcome}${text ? `: ${text}` : ''}`;
    }).join('\n');
  }

  /** The current state of a message; `channel` may be a user id (meaning the bot's DM with them). */
  message(channel: string, ts: string): SlackMessageRecord | undefined {
    return this.messages.get(`${this.canonicalChannel(channel)}:${ts}`);
  }

  /** Every version of a message, oldest first (the post, then each chat.update); kept after chat.delete. */
  historyOf(channel: string, ts: string): SlackMessageVersion[] {
    return this.histories.get(`${this.canonicalChannel(channel)}:${ts}`) ?? [];
  }

  /** Messages currently in a channel (not deleted), oldest first; a user id means the bot's DM with them. */
  messagesIn(channel: string): SlackMessageRecord[] {
    const id = this.canonicalChannel(channel);
    return [...this.messages.values()].filter((m) => m.channel === id).sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  /** The `ts` Slack answered to a chat.postMessage call (or `message_ts` of chat.postEphemeral). */
  tsOf(call: { args: JsonObject } | undefined): string | undefined {
    if (!call) return undefined;
    const recorded = this.calls.find((c) => c === call) ?? (call as Partial<SlackCall>);
    const response = recorded.response;
    if (!isObject(response)) return undefined;
    if (typeof response.ts === 'string') return response.ts;
    return typeof response.message_ts === 'string' ? response.message_ts : undefined;
  }

  /** The channel id Slack answered to a chat.postMessage call (a DM id when posted to a user id). */
  channelOf(call: { args: JsonObject } | undefined): string | undefined {
    if (!call) return undefined;
    const recorded = this.calls.find((c) => c === call) ?? (call as Partial<SlackCall>);
    const response = recorded.response;
    return isObject(response) && typeof response.channel === 'string' ? response.channel : undefined;
  }

  private canonicalChannel(channel: string): string {
    return /^[UW][A-Z0-9]+$/.test(channel) ? this.dmOf(channel) : channel;
  }

  /** The id of the bot's DM with a user (what conversations.open returns for them). */
  dmOf(userId: string): string {
    return `D${userId}`;
  }

  /** Messages in the bot's DM with a user, oldest first. */
  dmsTo(userId: string): SlackMessageRecord[] {
    return this.messagesIn(this.dmOf(userId));
  }

  /** The last view published to a user's App Home. */
  homeOf(userId: string): JsonObject | undefined {
    const id = this.homes.get(userId);
    return id ? this.views.get(id)?.view : undefined;
  }

  view(viewId: string): JsonObject | undefined {
    return this.views.get(viewId)?.view;
  }

  /** Modals opened (views.open/push), oldest first. */
  modals(): SlackViewRecord[] {
    return [...this.views.values()].filter((record) => record.type === 'modal');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  // ----- HTTP ------------------------------------------------------------------------------

  /** @internal */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', this.origin);
    const send = (answer: Answer): void => {
      response.writeHead(answer.status ?? 200, { 'content-type': 'application/json; charset=utf-8', ...(answer.headers ?? {}) });
      response.end(JSON.stringify(answer.body));
    };

    if (url.pathname.startsWith('/commands/')) {
      const answer = this.handleResponseUrl(url, raw, request.headers['content-type'] ?? '');
      this.record('response_url', { ...answer.args, url: `${this.origin}${url.pathname}` }, undefined, answer);
      send(answer);
      return;
    }
    const match = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (!match || !match[1]) {
      send({ status: 404, body: { ok: false, error: 'unknown_method' } });
      return;
    }
    const method = match[1];
    const parsed = this.parseArgs(raw, request.headers['content-type'] ?? '', url);
    const authorization = request.headers.authorization;
    const token = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined;

    const answer = await this.answer(method, parsed, token);
    this.record(method, parsed.args, token, answer);
    send(answer);
  }

  private record(method: string, args: JsonObject, token: string | undefined, answer: Answer): void {
    const call: SlackCall = {
      method,
      args,
      at: this.now(),
      token,
      status: answer.status ?? 200,
      ok: answer.body.ok === true,
      error: typeof answer.body.error === 'string' ? answer.body.error : undefined,
      response: answer.body,
    };
    this.calls.push(call);
    for (const waiter of [...this.waiters]) {
      if (waiter.method === method && waiter.predicate(call)) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(call);
      }
    }
  }

  private parseArgs(raw: string, contentType: string, url: URL): { args: JsonObject; error?: string } {
    const args: JsonObject = Object.fromEntries(url.searchParams.entries());
    if (raw === '') return { args };
    if (contentType.includes('application/json')) {
      try {
        const body: unknown = JSON.parse(raw);
        if (!isObject(body)) return { args, error: 'invalid_json' };
        return { args: { ...args, ...body } };
      } catch {
        return { args, error: 'invalid_json' };
      }
    }
    if (contentType.includes('application/x-www-form-urlencoded') || contentType === '') {
      for (const [key, value] of new URLSearchParams(raw).entries()) {
        args[key] = value;
        if (JSON_FIELDS.has(key)) {
          try {
            args[key] = JSON.parse(value) as unknown;
          } catch {
            // Left as the string: the method answers invalid_blocks_format / invalid_arguments.
          }
        }
      }
      return { args };
    }
    return { args, error: 'invalid_form_data' };
  }

  private async answer(method: string, parsed: { args: JsonObject; error?: string }, token: string | undefined): Promise<Answer> {
    const rateLimit = this.take(method, 'ratelimit');
    if (rateLimit) return { status: 429, headers: { 'retry-after': String(rateLimit.retryAfter) }, body: { ok: false, error: 'ratelimited' } };
    const delay = this.take(method, 'delay');
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay.ms));

    if (method === 'apps.connections.open') return this.appsConnectionsOpen(token);
    if (token === undefined) return platformError('not_authed');
    if (!token.startsWith('xoxb-') || (this.options.token !== undefined && token !== this.options.token)) return platformError('invalid_auth');
    if (parsed.error) return platformError(parsed.error);

    const failure = this.take(method, 'fail');
    if (failure) return platformError(failure.error);

    const args = parsed.args;
    switch (method) {
      case 'auth.test': return this.authTest();
      case 'users.info': return this.usersInfo(args);
      case 'users.lookupByEmail': return this.usersLookupByEmail(args);
      case 'users.list': return this.usersList(args);
      case 'usergroups.list': return this.usergroupsList();
      case 'usergroups.users.list': return this.usergroupsUsersList(args);
      case 'conversations.open': return this.conversationsOpen(args);
      case 'chat.postMessage': return this.chatPostMessage(args);
      case 'chat.update': return this.chatUpdate(args);
      case 'chat.postEphemeral': return this.chatPostEphemeral(args);
      case 'chat.delete': return this.chatDelete(args);
      case 'views.open':
      case 'views.push': return this.viewsOpen(args);
      case 'views.update': return this.viewsUpdate(args);
      case 'views.publish': return this.viewsPublish(args);
      default: return platformError('unknown_method');
    }
  }

  /** A post to a response_url: like Slack's, answered 404 once unknown, expired or used 5 times, 400 when unacceptable. */
  private handleResponseUrl(url: URL, raw: string, contentType: string): Answer & { args: JsonObject } {
    const id = url.pathname.slice('/commands/'.length);
    let body: JsonObject = {};
    try {
      const parsed: unknown = contentType.includes('application/json') ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw).entries());
      if (!isObject(parsed)) return { args: {}, status: 400, body: { ok: false, error: 'invalid_payload' } };
      body = parsed;
    } catch {
      return { args: { raw }, status: 400, body: { ok: false, error: 'invalid_payload' } };
    }
    const refuse = (status: number, error: string, messages?: string[]): Answer & { args: JsonObject } =>
      ({ args: body, status, body: { ok: false, error, ...(messages ? { response_metadata: { messages: messages.map((e) => `[ERROR] ${e}`) } } : {}) } });
    const entry = this.responseUrls.get(id);
    if (!entry) return refuse(404, 'no_such_url');
    if (this.now() - entry.issuedAt > RESPONSE_URL_TTL_MS) return refuse(404, 'expired_url');
    if (entry.uses >= RESPONSE_URL_USES) return refuse(404, 'used_url');
    if (body.blocks !== undefined) {
      const errors = validateBlocks(body.blocks, 'message', { actionIdScope: this.options.actionIdScope ?? 'block' });
      if (errors.length > 0) return refuse(400, 'invalid_blocks', errors);
    }
    if (typeof body.text === 'string' && body.text.length > (this.options.maxTextLength ?? SLACK_LIMITS.messageText)) return refuse(400, 'msg_too_long');
    if (body.text === undefined && body.blocks === undefined && body.delete_original === undefined) return refuse(400, 'no_text');
    entry.uses += 1;
    const post: ResponseUrlPost = { url: `${this.origin}${url.pathname}`, body, at: this.now() };
    this.responses.push(post);
    for (const waiter of [...this.responseWaiters]) {
      if (waiter.predicate(post)) {
        this.responseWaiters = this.responseWaiters.filter((w) => w !== waiter);
        waiter.resolve(post);
      }
    }
    return { args: body, body: { ok: true } };
  }

  // ----- methods ---------------------------------------------------------------------------

  /**
   * Socket Mode (slack-socket-double.ts): apps.connections.open answers `issue(token)`, the
   * WebSocket URL the app connects to next, or `invalid_auth` when it gives null.
   */
  serveSocketMode(issue: (token: string) => string | null): void {
    this.socketUrl = issue;
  }

  /** Like Slack's, only for an app-level token (xapp-); `failNext('apps.connections.open', 'token_revoked')` refuses one. */
  private appsConnectionsOpen(token: string | undefined): Answer {
    if (token === undefined) return platformError('not_authed');
    if (/^xox[a-z]-/.test(token)) return platformError('not_allowed_token_type');
    if (!token.startsWith('xapp-')) return platformError('invalid_auth');
    const failure = this.take('apps.connections.open', 'fail');
    if (failure) return platformError(failure.error);
    if (!this.socketUrl) return platformError('socket_mode_not_enabled');
    const url = this.socketUrl(token);
    return url === null ? platformError('invalid_auth') : { body: { ok: true, url } };
  }

  private authTest(): Answer {
    return {
      body: {
        ok: true, url: `https://${this.teamDomain}.slack.com/`, team: 'Latch Test', user: 'latch', team_id: this.teamId,
        user_id: this.botUserId, bot_id: this.botId, is_enterprise_install: false,
      },
    };
  }

  private userObject(user: SlackUserSpec): JsonObject {
    const name = user.name ?? user.id.toLowerCase();
    const realName = user.realName ?? name;
    return {
      id: user.id, team_id: this.teamId, name, deleted: user.deleted ?? false, color: '9f69e7', real_name: realName,
      tz: user.tz ?? 'Europe/London', tz_label: 'Greenwich Mean Time', tz_offset: 0,
      profile: {
        real_name: realName, real_name_normalized: realName, display_name: name, display_name_normalized: name,
        ...(user.email !== undefined ? { email: user.email } : {}), team: this.teamId,
      },
      is_admin: user.is_admin ?? false, is_owner: false, is_primary_owner: false, is_restricted: false, is_ultra_restricted: false,
      is_bot: user.is_bot ?? false, is_app_user: false, updated: TS_BASE_SECONDS,
    };
  }

  private usersInfo(args: JsonObject): Answer {
    const id = stringArg(args, 'user');
    const user = id ? this.users.get(id) : undefined;
    if (!user) return platformError('user_not_found');
    return { body: { ok: true, user: this.userObject(user) } };
  }

  /** Pages of `limit` (at most 1000, like Slack's), linked by response_metadata.next_cursor ('' on the last). */
  private usersList(args: JsonObject): Answer {
    const limit = Math.min(1000, Number(stringArg(args, 'limit') ?? 0) || 1000);
    const cursor = stringArg(args, 'cursor');
    const offset = cursor ? Number(Buffer.from(cursor, 'base64').toString('utf8').replace(/^users:/, '')) : 0;
    if (!Number.isInteger(offset) || offset < 0) return platformError('invalid_cursor');
    const all = [...this.users.values()];
    const page = all.slice(offset, offset + limit).map((user) => this.userObject(user));
    const next = offset + limit < all.length ? Buffer.from(`users:${offset + limit}`).toString('base64') : '';
    return { body: { ok: true, members: page, cache_ts: TS_BASE_SECONDS, response_metadata: { next_cursor: next } } };
  }

  private usergroupsList(): Answer {
    const usergroups = [...this.userGroups.values()].map((group) => ({
      id: group.id, team_id: this.teamId, is_usergroup: true, name: group.name ?? group.handle, description: '', handle: group.handle,
      is_external: false, date_create: TS_BASE_SECONDS, date_update: TS_BASE_SECONDS, date_delete: 0, auto_type: null,
      created_by: 'UADMIN', updated_by: 'UADMIN', deleted_by: null, prefs: { channels: [], groups: [] }, user_count: group.users.length,
    }));
    return { body: { ok: true, usergroups } };
  }

  private usergroupsUsersList(args: JsonObject): Answer {
    const id = stringArg(args, 'usergroup');
    if (!id) return platformError('invalid_arguments', ['missing required field: usergroup']);
    const group = this.userGroups.get(id);
    if (!group) return platformError('no_such_subteam');
    return { body: { ok: true, users: group.users } };
  }

  private usersLookupByEmail(args: JsonObject): Answer {
    const email = stringArg(args, 'email');
    if (!email) return platformError('invalid_arguments', ['missing required field: email']);
    const user = [...this.users.values()].find((u) => !u.deleted && u.email !== undefined && u.email.toLowerCase() === email.toLowerCase());
    if (!user) return platformError('users_not_found');
    return { body: { ok: true, user: this.userObject(user) } };
  }

  private conversationsOpen(args: JsonObject): Answer {
    const users = stringArg(args, 'users');
    const channel = stringArg(args, 'channel');
    if (!users && !channel) return platformError('users_list_not_supplied');
    if (channel) {
      const known = channel.startsWith('D') && this.users.has(channel.slice(1));
      return known ? { body: { ok: true, no_op: true, already_open: true, channel: { id: channel } } } : platformError('channel_not_found');
    }
    const ids = (users ?? '').split(',').map((u) => u.trim()).filter(Boolean);
    for (const id of ids) {
      const user = this.users.get(id);
      if (!user) return platformError('user_not_found');
      if (user.deleted) return platformError('user_disabled');
      if (user.is_bot) return platformError('cannot_dm_bot');
    }
    if (ids.length === 1 && ids[0]) {
      const id = this.dmOf(ids[0]);
      const alreadyOpen = this.openDms.has(id);
      this.openDms.add(id);
      return { body: { ok: true, no_op: alreadyOpen, already_open: alreadyOpen, channel: { id } } };
    }
    if (ids.length > 8) return platformError('too_many_users');
    return { body: { ok: true, channel: { id: `G${ids.sort().join('').replace(/[^A-Z0-9]/g, '').slice(0, 20)}` } } };
  }

  /** Resolves a `channel` argument as chat.postMessage does: ids, user ids (their DM), names. */
  private resolveChannel(channel: string, allowUser: boolean): { id: string } | { error: string } {
    if (/^[UW][A-Z0-9]+$/.test(channel)) {
      if (!allowUser) return { error: 'channel_not_found' };
      const user = this.users.get(channel);
      if (!user || user.is_bot) return { error: 'channel_not_found' };
      return { id: this.dmOf(channel) };
    }
    if (/^D[A-Z0-9]+$/.test(channel)) return this.users.has(channel.slice(1)) ? { id: channel } : { error: 'channel_not_found' };
    const byName = channel.replace(/^#/, '');
    const spec = this.channels.get(channel) ?? [...this.channels.values()].find((c) => c.name === byName);
    if (spec) return spec.botIsMember === false ? { error: 'not_in_channel' } : { id: spec.id };
    if (/^[CG][A-Z0-9]+$/.test(channel) && !this.options.strictChannels) return { id: channel };
    return { error: 'channel_not_found' };
  }

  /** The checks chat.postMessage / chat.update / chat.postEphemeral share: text, blocks, limits. */
  private checkContent(method: string, args: JsonObject, requireContent: boolean): Answer | undefined {
    const text = args.text;
    const blocks = args.blocks;
    if (text !== undefined && typeof text !== 'string') return platformError('invalid_arguments', ['must be a string [json-pointer:/text]']);
    if (blocks !== undefined && typeof blocks === 'string') return platformError('invalid_blocks_format', ['blocks must be a JSON array']);
    const hasText = typeof text === 'string' && text !== '';
    const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
    if (requireContent && !hasText && !hasBlocks && args.attachments === undefined) return platformError('no_text');
    if (blocks !== undefined) {
      const errors = validateBlocks(blocks, 'message', { actionIdScope: this.options.actionIdScope ?? 'block' });
      if (errors.length > 0) return platformError('invalid_blocks', errors);
    }
    if (typeof text === 'string' && text.length > (this.options.maxTextLength ?? SLACK_LIMITS.messageText)) return platformError('msg_too_long');
    if (hasBlocks && !hasText) {
      this.warnings.push({ method, message: 'blocks were sent without a top-level text fallback (notifications and screen readers get nothing)', at: this.now() });
    }
    return undefined;
  }

  private messageObject(text: string | undefined, blocks: unknown[] | undefined, ts: string, threadTs?: string): JsonObject {
    return {
      type: 'message', text: text ?? '', user: this.botUserId, bot_id: this.botId, app_id: this.appId, team: this.teamId, ts,
      ...(blocks !== undefined ? { blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}),
      bot_profile: { id: this.botId, app_id: this.appId, name: 'Latch', deleted: false, team_id: this.teamId },
    };
  }

  private chatPostMessage(args: JsonObject): Answer {
    const channelArg = stringArg(args, 'channel');
    if (!channelArg) return platformError('channel_not_found');
    const problem = this.checkContent('chat.postMessage', args, true);
    if (problem) return problem;
    const resolved = this.resolveChannel(channelArg, true);
    if ('error' in resolved) return platformError(resolved.error);
    const threadTs = stringArg(args, 'thread_ts');
    const ts = this.nextTs();
    const text = typeof args.text === 'string' ? args.text : undefined;
    const blocks = Array.isArray(args.blocks) ? args.blocks : undefined;
    const record: SlackMessageRecord = { channel: resolved.id, ts, text, blocks, threadTs, updates: 0 };
    this.messages.set(`${resolved.id}:${ts}`, record);
    this.histories.set(`${resolved.id}:${ts}`, [{ text, blocks, at: this.now() }]);
    return { body: { ok: true, channel: resolved.id, ts, message: this.messageObject(text, blocks, ts, threadTs) } };
  }

  private chatUpdate(args: JsonObject): Answer {
    const channel = stringArg(args, 'channel');
    const ts = stringArg(args, 'ts');
    if (!channel) return platformError('channel_not_found');
    if (!ts) return platformError('message_not_found');
    const problem = this.checkContent('chat.update', args, false);
    if (problem) return problem;
    if (args.text === undefined && args.blocks === undefined && args.attachments === undefined) return platformError('no_text');
    const record = this.messages.get(`${channel}:${ts}`);
    if (!record) return platformError(/^[UW]/.test(channel) ? 'channel_not_found' : 'message_not_found');
    // Slack keeps a field that is left out: text-only updates keep the blocks, and the other way round.
    if (args.text !== undefined) record.text = typeof args.text === 'string' ? args.text : record.text;
    if (Array.isArray(args.blocks)) record.blocks = args.blocks;
    record.updates += 1;
    this.histories.get(`${channel}:${ts}`)?.push({ text: record.text, blocks: record.blocks, at: this.now() });
    return { body: { ok: true, channel, ts, text: record.text ?? '', message: this.messageObject(record.text, record.blocks, ts, record.threadTs) } };
  }

  private chatPostEphemeral(args: JsonObject): Answer {
    const channelArg = stringArg(args, 'channel');
    const userId = stringArg(args, 'user');
    if (!channelArg) return platformError('channel_not_found');
    if (!userId) return platformError('user_not_found');
    const problem = this.checkContent('chat.postEphemeral', args, true);
    if (problem) return problem;
    const user = this.users.get(userId);
    if (!user || user.deleted) return platformError('user_not_found');
    const resolved = this.resolveChannel(channelArg, false);
    if ('error' in resolved) return platformError(resolved.error);
    const messageTs = this.nextTs();
    this.ephemerals.push({
      channel: resolved.id, user: userId, messageTs, at: this.now(),
      text: typeof args.text === 'string' ? args.text : undefined, blocks: Array.isArray(args.blocks) ? args.blocks : undefined,
    });
    return { body: { ok: true, message_ts: messageTs } };
  }

  private chatDelete(args: JsonObject): Answer {
    const channel = stringArg(args, 'channel');
    const ts = stringArg(args, 'ts');
    if (!channel) return platformError('channel_not_found');
    const key = `${channel}:${ts ?? ''}`;
    const record = this.messages.get(key);
    if (!record) return platformError('message_not_found');
    this.messages.delete(key);
    this.deletedMessages.push(record);
    return { body: { ok: true, channel, ts } };
  }

  /** A trigger id Slack would still honour (issued here, unused, younger than triggerTtlMs). */
  private checkTrigger(args: JsonObject): { ok: true; spend: () => void; user: string | undefined } | { ok: false; answer: Answer } {
    const trigger = stringArg(args, 'trigger_id') ?? stringArg(args, 'interactivity_pointer');
    if (!trigger) return { ok: false, answer: platformError('invalid_arguments', ['missing required field: trigger_id']) };
    const entry = this.triggers.get(trigger);
    if (!entry) return { ok: false, answer: platformError('invalid_trigger_id') };
    if (entry.used || this.now() - entry.issuedAt > (this.options.triggerTtlMs ?? 3_000)) return { ok: false, answer: platformError('expired_trigger_id') };
    return { ok: true, user: entry.user, spend: () => { entry.used = true; } };
  }

  private viewArg(args: JsonObject, surface: 'modal' | 'home'): { ok: true; view: JsonObject } | { ok: false; answer: Answer } {
    const view = args.view;
    if (view === undefined) return { ok: false, answer: platformError('invalid_arguments', ['missing required field: view']) };
    if (!isObject(view)) return { ok: false, answer: platformError('invalid_arguments', ['view must be a JSON object [json-pointer:/view]']) };
    const errors = validateView(view, surface, { actionIdScope: this.options.actionIdScope ?? 'block' });
    if (errors.length > 0) return { ok: false, answer: platformError('invalid_arguments', errors) };
    return { ok: true, view };
  }

  private buildView(id: string, input: JsonObject, type: 'modal' | 'home', previous?: JsonObject): JsonObject {
    const hash = `${Math.floor(this.now() / 1000)}.${randomBytes(4).toString('hex')}`;
    return {
      id, team_id: this.teamId, type, blocks: input.blocks, private_metadata: input.private_metadata ?? '', callback_id: input.callback_id ?? '',
      state: { values: {} }, hash, ...(input.title !== undefined ? { title: input.title } : {}),
      clear_on_close: input.clear_on_close ?? false, notify_on_close: input.notify_on_close ?? false,
      close: input.close ?? null, submit: input.submit ?? null, previous_view_id: previous?.previous_view_id ?? null,
      root_view_id: previous?.root_view_id ?? id, app_id: this.appId, external_id: input.external_id ?? '',
      app_installed_team_id: this.teamId, bot_id: this.botId,
    };
  }

  /** views.open and views.push: both need a live trigger id, and spend it only on a view Slack accepted. */
  private viewsOpen(args: JsonObject): Answer {
    const trigger = this.checkTrigger(args);
    if (!trigger.ok) return trigger.answer;
    const input = this.viewArg(args, 'modal');
    if (!input.ok) return input.answer;
    trigger.spend();
    const id = this.nextViewId();
    const built = this.buildView(id, input.view, 'modal');
    this.views.set(id, { id, type: 'modal', view: built, user: trigger.user, closed: false, updates: 0 });
    return { body: { ok: true, view: built } };
  }

  private viewsUpdate(args: JsonObject): Answer {
    const viewId = stringArg(args, 'view_id');
    const externalId = stringArg(args, 'external_id');
    if (!viewId && !externalId) return platformError('invalid_arguments', ['must provide view_id or external_id']);
    const record = viewId ? this.views.get(viewId) : [...this.views.values()].find((r) => r.view.external_id === externalId);
    if (!record || record.closed) return platformError('not_found');
    const input = this.viewArg(args, record.type);
    if (!input.ok) return input.answer;
    const hash = stringArg(args, 'hash');
    if (hash !== undefined && hash !== record.view.hash) return platformError('hash_conflict');
    record.view = this.buildView(record.id, input.view, record.type, record.view);
    record.updates += 1;
    return { body: { ok: true, view: record.view } };
  }

  private viewsPublish(args: JsonObject): Answer {
    const userId = stringArg(args, 'user_id');
    if (!userId) return platformError('invalid_arguments', ['missing required field: user_id']);
    const input = this.viewArg(args, 'home');
    if (!input.ok) return input.answer;
    const user = this.users.get(userId);
    if (!user || user.deleted) return platformError('user_not_found');
    const existingId = this.homes.get(userId);
    const existing = existingId ? this.views.get(existingId) : undefined;
    const hash = stringArg(args, 'hash');
    if (hash !== undefined && existing && hash !== existing.view.hash) return platformError('hash_conflict');
    const id = existing?.id ?? this.nextViewId();
    const built = this.buildView(id, input.view, 'home');
    this.views.set(id, { id, type: 'home', view: built, user: userId, closed: false, updates: existing ? existing.updates + 1 : 0 });
    this.homes.set(userId, id);
    return { body: { ok: true, view: built } };
  }

  // ----- ids -------------------------------------------------------------------------------

  private inject(method: string, injection: Injection): void {
    if (injection.remaining <= 0) return;
    const list = this.injections.get(method) ?? [];
    list.push(injection);
    this.injections.set(method, list);
  }

  private take<K extends Injection['kind']>(method: string, kind: K): Extract<Injection, { kind: K }> | undefined {
    const list = this.injections.get(method);
    const found = list?.find((injection): injection is Extract<Injection, { kind: K }> => injection.kind === kind && injection.remaining > 0);
    if (!found || !list) return undefined;
    found.remaining -= 1;
    if (found.remaining === 0) list.splice(list.indexOf(found), 1);
    return found;
  }

  private nextId(): number {
    this.idCounter += 1;
    return this.idCounter;
  }

  private nextViewId(): string {
    return `V${String(this.nextId()).padStart(10, '0')}`;
  }


  /** Unique, increasing message timestamps: 1700000000.000100, 1700000000.000200, ... */
  private nextTs(): string {
    this.tsCounter += 1;
    const micros = this.tsCounter * 100;
    return `${TS_BASE_SECONDS + Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }
}

/** Starts the double on 127.0.0.1 and a free port. Point Latch's `slackApiUrl` at `slack.apiUrl`. */
export async function startSlackDouble(options: SlackDoubleOptions = {}): Promise<SlackDouble> {
  let double: SlackDouble | undefined;
  const server = createServer((request, response) => {
    if (!double) {
      response.writeHead(503).end();
      return;
    }
    double.handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ ok: false, error: 'fatal_error', detail: error instanceof Error ? error.message : String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  double = new SlackDouble(server, port, options);
  return double;
}
