import type { RequestState } from './lifecycle.js';

/** Epoch milliseconds. Every instant Latch stores is one of these. */
export type Instant = number;

/** One resource + permission of one integration: the unit a provisioner grants. */
export interface AccessItem {
  integration: string;
  resource: string;
  permission: string;
}

export type RequestKind = 'access' | 'extension';

export interface AccessRequest {
  id: string;
  kind: RequestKind;
  /** For an extension: the access request it extends. */
  parentId: string | null;
  flow: string;
  bundle: string | null;
  requester: string;
  /** Who receives the access; the requester unless the flow lets them ask for someone else. */
  grantee: string;
  reason: string | null;
  durationMs: number;
  state: RequestState;
  version: number;
  /** Index of the approval step being decided (pending requests). */
  step: number;
  createdAt: Instant;
  updatedAt: Instant;
  timeoutAt: Instant | null;
  decidedAt: Instant | null;
  decidedBy: string | null;
  /** Set when granting starts: the backend enforces it too where it can. */
  expiresAt: Instant | null;
  endedAt: Instant | null;
  endedBy: string | null;
  /** Why a request failed or a decision was a denial, in words for the requester. */
  outcome: string | null;
  /** SHA-256 of the config the request was evaluated under; null for requests older than the record. */
  policy: string | null;
  /** Facts frozen when the request was made, for people to read. */
  context: RequestContext | null;
  /** A scheduled start: granted at this instant (for `durationMs`), not at approval. */
  startAt: Instant | null;
}

export interface RequestContext {
  /** The automatic decision rule that decided the request, if one did. */
  automatic?: { rule: string; verdict: 'approve' | 'deny' };
  /** An emergency (break-glass) grant: granted without an approver because of `matched`. */
  emergency?: EmergencyContext;
  /** For an extension: where the access stood when it was asked for. */
  extension?: {
    /** This is extension number `number` of the access. */
    number: number;
    /** Time earlier extensions added. */
    usedMs: number;
    maxCount: number | null;
    maxTotalMs: number | null;
    /** The access's expiry when the extension was asked for. */
    parentExpiresAt: number | null;
  };
}

export interface EmergencyContext {
  /** The emergency flow (config `emergency[].name`); also the request's `flow`. */
  flow: string;
  /** The principal that let the person in: `oncall:db-primary`, `group:sre` or their e-mail. */
  matched: string;
  /** For an on-call match: how sure Latch was (`stale`: the provider was down and its last answer was used). */
  onCall: { schedule: string; state: 'fresh' | 'stale'; readAt: number | null } | null;
  /** The incident the person named, where it lives, and whether the provider said it was open. */
  incident: { provider: 'pagerduty' | 'opsgenie' | null; id: string; open: boolean | null } | null;
  /** Where it was asked for: the grant is announced there. */
  channel: { platform: 'slack' | 'teams'; id: string } | null;
  /** The post-incident review, once someone did it. */
  review?: { verdict: 'acknowledged' | 'flagged'; by: string; at: number; comment: string | null };
}

export type GrantState = 'pending' | 'active' | 'revoked' | 'failed';

export interface Grant extends AccessItem {
  id: string;
  requestId: string;
  state: GrantState;
  /** The backend principal (user/role name) Latch manages for this grant; never a secret. */
  principal: string | null;
  grantedAt: Instant | null;
  revokedAt: Instant | null;
  lastError: string | null;
}

export interface Decision {
  id: string;
  requestId: string;
  step: number;
  approver: string;
  verdict: 'approve' | 'deny';
  comment: string | null;
  at: Instant;
}

/** A request with everything that hangs off it. */
export interface RequestRecord {
  request: AccessRequest;
  grants: Grant[];
  decisions: Decision[];
}

/** The person acting, as Latch knows them: always by e-mail, whatever the platform. */
export interface Actor {
  email: string;
  /** Where the action came from, for the audit record: slack, teams, cli, api, system. */
  via: string;
  /** The platform's id for this delivery (Slack trigger/event id): acting on it twice is refused. */
  deliveryId?: string;
}

export const SYSTEM_ACTOR: Actor = { email: 'latch', via: 'system' };
