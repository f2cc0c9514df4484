import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseConfig, type ConfigError } from './parse.js';
import type { LatchConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'latch.config.example.yaml';

export type LoadedConfigFile =
  | { ok: true; config: LatchConfig; hash: string; file: string }
  | { ok: false; errors: ConfigError[] };

export function loadConfigFile(file: string): LoadedConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : `the file cannot be read (${(error as Error).message})`;
    return { ok: false, errors: [{ file, line: 0, column: 0, key: '', message: reason }] };
  }
  const parsed = parseConfig(text, file);
  if (!parsed.ok) return parsed;
  return { ok: true, config: parsed.config, hash: createHash('sha256').update(text).digest('hex'), file };
}
