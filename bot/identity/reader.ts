import type { SourceSnapshot } from '../../core/identity.js';

/** What a client reads from its source: every person, and the groups the config names (by name). */
export interface SourceReader {
  read(groups: readonly string[]): Promise<SourceSnapshot>;
}

/** Finds a person's e-mail from whatever a source uses to name a manager (an id, a login, an address). */
export function managerResolver(people: readonly { id: string; email: string; aliases?: readonly string[] }[]): (reference: string | null) => string | null {
  const byKey = new Map<string, string>();
  for (const person of people) {
    byKey.set(person.id, person.email);
    byKey.set(person.email.toLowerCase(), person.email);
    for (const alias of person.aliases ?? []) byKey.set(alias.toLowerCase(), person.email);
  }
  return (reference) => {
    if (!reference) return null;
    const known = byKey.get(reference) ?? byKey.get(reference.toLowerCase());
    if (known) return known;
    return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(reference) ? reference.toLowerCase() : null;
  };
}
