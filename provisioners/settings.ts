import type { z } from 'zod';

/**
 * Validates a backend's settings from the config, turning every zod issue into
 * `<where>.<path>: <message>` and throwing the backend's own settings error, so a
 * mistake names the integration, the resource and the key.
 */
export function parseSettings<T extends z.ZodType>(schema: T, value: unknown, where: string, fail: new (message: string) => Error): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
    return `${where}${path}: ${issue.message}`;
  });
  throw new fail(problems.join('; '));
}
