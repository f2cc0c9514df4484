// Adaptive Card building blocks (schema 1.5, Universal Actions). Every card Latch sends is
// parsed by the adaptivecards library in tests, so a card Teams would reject fails there first.

export type CardElement = Record<string, unknown>;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: CardElement[];
  actions?: CardElement[];
  refresh?: { action: CardElement; userIds: string[] };
}

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/**
 * Teams renders markdown in text; what people typed must not become a link, a mention or
 * formatting. Only the characters that start those are escaped, so addresses stay readable.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]()<>~|])/g, '\\$1').replace(/^([#>\-+])/gm, '\\$1').replace(/^(\d+)\./gm, '$1\\.');
}

export function card(body: CardElement[], options: { actions?: CardElement[]; refresh?: AdaptiveCard['refresh'] } = {}): AdaptiveCard {
  return {
    type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: '1.5', body,
    ...(options.actions && options.actions.length > 0 ? { actions: options.actions } : {}),
    ...(options.refresh ? { refresh: options.refresh } : {}),
  };
}

export const text = (value: string, options: { size?: 'Small' | 'Default' | 'Medium' | 'Large'; weight?: 'Bolder' | 'Default'; color?: 'Default' | 'Good' | 'Attention' | 'Warning' | 'Accent'; isSubtle?: boolean } = {}): CardElement =>
  ({ type: 'TextBlock', text: value, wrap: true, ...options });

export const facts = (pairs: [string, string][]): CardElement => ({ type: 'FactSet', facts: pairs.map(([title, value]) => ({ title, value })) });

export const execute = (title: string, verb: string, data: Record<string, unknown>, style?: 'positive' | 'destructive'): CardElement =>
  ({ type: 'Action.Execute', title, verb, data, ...(style ? { style } : {}) });

export function attachment(content: AdaptiveCard): { contentType: string; content: AdaptiveCard } {
  return { contentType: ADAPTIVE_CARD_CONTENT_TYPE, content };
}
