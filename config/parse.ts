import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode } from 'yaml';
import type { ZodIssue } from 'zod';
import { LatchConfig } from './schema.js';
import { checkReferences } from './references.js';

export interface ConfigError {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the key, e.g. `flows[0].duration.max`; empty for the whole file. */
  key: string;
  message: string;
}

export type ConfigResult =
  | { ok: true; config: LatchConfig }
  | { ok: false; errors: ConfigError[] };

function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    return text === '' ? String(segment) : `${text}.${String(segment)}`;
  }, '');
}

/**
 * The offset that best points at `path`: the key of the deepest pair that exists, so a
 * wrong value points at its own line and a missing key points at the object that lacks it.
 */
function offsetOf(root: unknown, path: readonly PropertyKey[]): number {
  let node: unknown = root;
  let offset = (root as YamlNode | null)?.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === segment);
      if (!pair) break;
      offset = (pair.key as YamlNode).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as YamlNode | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function zodMessage(issue: ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined|required/i.test(issue.message)) return 'is required';
  // A missing literal, enum or union key (version, type, permissions) has no input either.
  if ((issue.code === 'invalid_value' || issue.code === 'invalid_union') && issue.input === undefined) return 'is required';
  return issue.message;
}

export function parseConfig(text: string, file: string): ConfigResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; column: number } => {
    const position = lineCounter.linePos(offset);
    return { line: position.line, column: position.col };
  };

  if (document.errors.length > 0) {
    return {
      ok: false,
      errors: document.errors.map((error) => ({ file, ...at(error.pos[0]), key: '', message: `YAML syntax: ${error.message.split('\n')[0]}` })),
    };
  }
  const raw: unknown = document.toJS();
  if (raw === null || typeof raw !== 'object') {
    return { ok: false, errors: [{ file, line: 1, column: 1, key: '', message: 'the file is empty or is not a YAML mapping (it should start with "version: 1")' }] };
  }

  const parsed = LatchConfig.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      // For an unknown key, point at that key rather than the object holding it.
      const path = issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...issue.path, issue.keys[0] as string] : issue.path;
      return { file, ...at(offsetOf(document.contents, path)), key: keyPath(path), message: zodMessage(issue) };
    });
    return { ok: false, errors: sortErrors(errors) };
  }

  const issues = checkReferences(parsed.data);
  if (issues.length > 0) {
    return {
      ok: false,
      errors: sortErrors(issues.map((issue) => ({ file, ...at(offsetOf(document.contents, issue.path)), key: keyPath(issue.path), message: issue.message }))),
    };
  }
  return { ok: true, config: parsed.data };
}

function sortErrors(errors: ConfigError[]): ConfigError[] {
  return [...errors].sort((a, b) => a.line - b.line || a.column - b.column);
}

export function formatConfigErrors(errors: readonly ConfigError[]): string {
  return errors.map((error) => `${error.file}:${error.line}:${error.column}${error.key ? ` ${error.key}:` : ''} ${error.message}`).join('\n');
}
