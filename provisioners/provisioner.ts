// The one interface every backend implements. Each method states its contract; the
// workers rely on it to be safe under retries and crashes.
import type { Integration, Resource } from '../config/schema.js';
import type { Instant } from '../core/types.js';

export interface GrantInput {
  grantId: string;
  requestId: string;
  /** E-mail of the person who receives the access. */
  grantee: string;
  integration: Integration;
  resource: Resource;
  permission: string;
  /** The permission's backend settings from the config, e.g. `{ roles: [app_readonly] }`. */
  permissionSettings: Record<string, unknown>;
  /** Latch-chosen principal name (safe alphabet, instance prefix), stable across retries. */
  principal: string;
  /** The backend should enforce this itself where it can (VALID UNTIL, session duration). */
  expiresAt: Instant;
}

export interface GrantOutput {
  principal: string;
  /** Secrets for the grantee (password, token). Delivered by DM only; never stored or logged. */
  secrets?: Record<string, string>;
  /** Non-secret facts for the access-details template (host, port, database, username...). */
  details?: Record<string, string>;
  /** How to use this access, for the DM when the integration has no accessDetails template (what a role session is, when it ends). */
  instructions?: string;
}

/** A permission the same grantee still holds through another active grant in the same integration. */
export interface HeldPermission {
  grantId: string;
  resource: Resource;
  permission: string;
  permissionSettings: Record<string, unknown>;
}

export interface RevokeInput extends Omit<GrantInput, 'expiresAt'> {
  /**
   * Where several grants share one backend principal (the person's existing role, their
   * Entra principal), what the others still need: a revoke must leave those memberships.
   */
  stillHeld?: HeldPermission[];
  /**
   * Set when the integration keeps revoked principals (`retainRevoked`): lock the principal,
   * take every privilege away and rotate its password, but drop it only after this instant.
   */
  retainUntil?: Instant;
}

export interface ManagedPrincipal {
  principal: string;
  /** The grant or request id the principal carries, when the backend can hold one (e.g. a role comment). */
  reference: string | null;
  expiresAt: Instant | null;
  /** A revoked principal kept (locked, without privileges) until this instant; reconcile drops it after. */
  retainedUntil?: Instant | null;
}

/** A resource the backend offers, with the permissions it knows for it (`list-resources`). */
export interface ResourceOffer {
  name: string;
  permissions: string[];
  description?: string;
}

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface Provisioner {
  readonly type: string;
  /**
   * Gives `principal` the permission. Idempotent: granting what is already granted
   * succeeds; if the secret was lost (a crash before delivery) it issues a new one.
   */
  grant(input: GrantInput): Promise<GrantOutput>;
  /** Takes the permission away. Must succeed when the principal or membership is already gone. */
  revoke(input: RevokeInput): Promise<void>;
  /**
   * Revokes many grants in as few backend round trips as it can (a mass expiry). Same
   * contract as `revoke` for each input, `stillHeld` included; one result per input, in
   * order, failures as values.
   */
  revokeMany?(inputs: readonly RevokeInput[], options?: { batchSize?: number }): Promise<({ ok: true } | { ok: false; error: string })[]>;
  /** Moves the backend-enforced expiry after an extension. */
  extend(input: GrantInput): Promise<void>;
  /** Whether the backend holds this grant now. */
  check(input: RevokeInput): Promise<'present' | 'absent'>;
  /** Every principal Latch manages in the integration, to find drift and orphans. */
  listManaged(integration: Integration): Promise<ManagedPrincipal[]>;
  /**
   * Removes a Latch-managed principal whose grant Latch no longer knows (reconcile), with
   * whatever it holds. Must succeed when it is already gone.
   */
  removeOrphan?(integration: Integration, principal: string): Promise<void>;
  /**
   * Issues new secrets for a principal that holds the grant now, replacing the ones it had
   * (the grantee lost them, or the grant carried none). Changes nothing else: memberships
   * and the backend-enforced expiry stay. Throws with a sentence for the grantee when this
   * grant has no secret Latch could issue (e.g. the person's own, existing login). The
   * input carries the access's current expiry, for backends whose secrets are sized by it
   * (an STS session for what is left).
   */
  resetCredentials?(input: GrantInput): Promise<GrantOutput>;
  /**
   * Why a grant of this permission would certainly fail, known before anyone is asked (an
   * AWS session policy too large for AssumeRole), as a sentence for the requester saying
   * what to remove; null when it can be granted. Quick and without I/O: it runs on every
   * request, before the request exists.
   */
  checkRequest?(resource: Resource, permission: string, permissionSettings: Record<string, unknown>): string | null;
  /**
   * What the backend already says about this person and permission, known only by asking it
   * (so it runs after checkRequest, before the request exists): `held` when the grantee has
   * the access outside Latch (standing access an administrator gave them), `refused` when a
   * grant would certainly fail (the person is unknown to the backend); each with a sentence
   * for the requester. Null when neither, or when the backend cannot be asked now: the grant
   * then finds out.
   */
  checkExisting?(grantee: string, resource: Resource, permission: string, permissionSettings: Record<string, unknown>): Promise<{ kind: 'held' | 'refused'; message: string } | null>;
  /**
   * False when the backend cannot enumerate what it granted (STS sessions cannot be
   * listed): reconcile then does not report active grants as missing from listManaged.
   */
  readonly listsGrants?: boolean;
  /** What the backend offers, to compare with what the config names. Absent: the type cannot tell. */
  listResources?(): Promise<ResourceOffer[]>;
  /** Can the connector log in, and does it hold the privileges it needs (checked, not assumed)? */
  checkHealth?(): Promise<{ ok: boolean; checks: HealthCheck[] }>;
  close(): Promise<void>;
}

export type ProvisionerFactory = (integration: Integration, env: NodeJS.ProcessEnv) => Provisioner;
