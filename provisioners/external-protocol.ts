// The JSON protocol Latch speaks with a backend the organisation runs itself: one request
// document per operation, one answer document back. Two transports carry it, `command`
// (stdin/stdout of an executable, command.ts) and `http` (a signed POST, http.ts); this
// file is what they share, so a script can move from one to the other without a change to
// what it reads or prints. The protocol is described in docs/provisioners/command.md.
import { z } from 'zod';
import type { GrantOutput, HealthCheck, ManagedPrincipal, ResourceOffer, RevokeInput } from './provisioner.js';

export const PROTOCOL_VERSION = 1;

export type ProtocolOperation =
  | 'grant'
  | 'revoke'
  | 'extend'
  | 'check'
  | 'list-managed'
  | 'list-resources'
  | 'reset-credentials'
  | 'health';

/** The grant as the backend sees it. `expiresAt` is absent for revoke, check and reset-credentials. */
export interface ProtocolGrant {
  id: string;
  requestId: string;
  grantee: string;
  principal: string;
  resource: { name: string; labels: string[]; settings: Record<string, unknown> };
  permission: { name: string; settings: Record<string, unknown> };
  expiresAt?: string;
}

export interface ProtocolRequest {
  version: typeof PROTOCOL_VERSION;
  operation: ProtocolOperation;
  integration: string;
  grant?: ProtocolGrant;
}

/** The grant part of a request; `expiresAt` only for the operations that move an expiry. */
export function protocolGrant(input: RevokeInput, expiresAt: number | null): ProtocolGrant {
  const grant: ProtocolGrant = {
    id: input.grantId,
    requestId: input.requestId,
    grantee: input.grantee,
    principal: input.principal,
    resource: { name: input.resource.name, labels: input.resource.labels, settings: input.resource.settings },
    permission: { name: input.permission, settings: input.permissionSettings },
  };
  if (expiresAt !== null) grant.expiresAt = new Date(expiresAt).toISOString();
  return grant;
}

export function protocolRequest(operation: ProtocolOperation, integration: string, grant: ProtocolGrant | undefined): ProtocolRequest {
  const request: ProtocolRequest = { version: PROTOCOL_VERSION, operation, integration };
  if (grant) request.grant = grant;
  return request;
}

// ---- answers -------------------------------------------------------------------------

const StringMap = z.record(z.string(), z.string());
const Isoish = z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'must be an ISO 8601 date-time');

/** `{ ok: false }`: a failure the backend understood and reports as an answer. */
export const Failure = z.object({
  ok: z.literal(false),
  error: z.string().min(1),
  retryable: z.boolean().optional(),
});
const Done = z.object({ ok: z.literal(true) });
const Granted = z.object({
  ok: z.literal(true),
  principal: z.string().min(1),
  secrets: StringMap.optional(),
  details: StringMap.optional(),
});
const Checked = z.object({ ok: z.literal(true), present: z.boolean() });
const Listed = z.object({
  ok: z.literal(true),
  principals: z.array(z.object({
    principal: z.string().min(1),
    reference: z.string().nullable().optional(),
    expiresAt: Isoish.nullable().optional(),
  })),
});
const Resources = z.object({
  ok: z.literal(true),
  resources: z.array(z.object({
    name: z.string().min(1),
    permissions: z.array(z.string().min(1)),
    description: z.string().optional(),
  })),
});
const Health = z.object({
  ok: z.literal(true),
  checks: z.array(z.object({ name: z.string().min(1), ok: z.boolean(), detail: z.string().optional() })),
});

const ANSWERS = {
  grant: Granted,
  'reset-credentials': Granted,
  revoke: Done,
  extend: Done,
  check: Checked,
  'list-managed': Listed,
  'list-resources': Resources,
  health: Health,
} as const satisfies Record<ProtocolOperation, z.ZodType>;

export type Answer<Op extends ProtocolOperation> = z.output<(typeof ANSWERS)[Op]>;

/**
 * What a parsed answer document means. Both `ok: false` and a wrong shape are expected
 * failures; the transport words them into its own error.
 */
export type ReadAnswer<Op extends ProtocolOperation> =
  | { ok: true; answer: Answer<Op> }
  | { ok: false; problem: 'refused'; error: string; retryable: boolean | null }
  | { ok: false; problem: 'shape'; issues: string };

/** Reads a parsed JSON document as the answer to `operation`. Unknown extra fields are ignored. */
export function readAnswer<Op extends ProtocolOperation>(operation: Op, document: unknown): ReadAnswer<Op> {
  const failure = Failure.safeParse(document);
  if (failure.success) return { ok: false, problem: 'refused', error: failure.data.error, retryable: failure.data.retryable ?? null };
  const schema: z.ZodType = ANSWERS[operation];
  const answer = schema.safeParse(document);
  if (!answer.success) return { ok: false, problem: 'shape', issues: describeIssues(answer.error) };
  // ANSWERS[operation] is the schema of Answer<Op>; TypeScript cannot follow the indexed generic.
  return { ok: true, answer: answer.data as Answer<Op> };
}

/** Describes what is wrong with an answer by path and rule only: values (maybe secrets) never appear. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(answer)'}: ${issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.code}`)
    .join('; ');
}

export function grantOutput(answer: Answer<'grant'>): GrantOutput {
  const output: GrantOutput = { principal: answer.principal };
  if (answer.secrets) output.secrets = answer.secrets;
  if (answer.details) output.details = answer.details;
  return output;
}

export function managedPrincipals(answer: Answer<'list-managed'>): ManagedPrincipal[] {
  return answer.principals.map((entry) => ({
    principal: entry.principal,
    reference: entry.reference ?? null,
    expiresAt: entry.expiresAt == null ? null : Date.parse(entry.expiresAt),
  }));
}

export function resourceOffers(answer: Answer<'list-resources'>): ResourceOffer[] {
  return answer.resources.map((entry) => (
    entry.description === undefined ? { name: entry.name, permissions: entry.permissions } : { name: entry.name, permissions: entry.permissions, description: entry.description }
  ));
}

export function healthReport(answer: Answer<'health'>): { ok: boolean; checks: HealthCheck[] } {
  const checks: HealthCheck[] = answer.checks.map((check) => (
    check.detail === undefined ? { name: check.name, ok: check.ok } : { name: check.name, ok: check.ok, detail: check.detail }
  ));
  return { ok: checks.every((check) => check.ok), checks };
}

// ---- settings both transports read ---------------------------------------------------

export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * `connection.timeoutMs`: absent means the default; a positive whole number (or a string
 * holding one, as YAML and environment overrides write it) is taken; anything else is null.
 */
export function timeoutSetting(value: string | number | boolean | undefined): number | null {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number > 0 ? number : null;
}

/** The start of a text for an error message, trimmed, at most `max` characters. */
export function excerpt(text: string, max: number): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  return trimmed.length > max ? `${trimmed.slice(0, max)}…` : trimmed;
}
