import type { JobKind } from '../storage/store.js';
import { runActivate, runLapse } from './activate.js';
import { runExtend } from './extend.js';
import { runGrant } from './grant.js';
import { runIdentitySync } from './identity-sync.js';
import { runDiscoveryDigest } from './discovery-digest.js';
import { runDiscoverySample } from './discovery-sample.js';
import { runEmergencyReview } from './emergency-review.js';
import { runIncidentNote } from './incident-note.js';
import { runOncallHandover } from './oncall-handover.js';
import type { JobBatchHandler, JobHandler } from './job-handler.js';
import { runExpiryWarning, runNotify } from './notify.js';
import { runPruneAudit } from './prune-audit.js';
import { runRdsDiscovery } from './rds-discovery.js';
import { runReconcile } from './reconcile.js';
import { runRemind } from './remind.js';
import { runRevoke, runRevokes } from './revoke.js';
import { runTimeout } from './timeout.js';

export const jobHandlers: Record<JobKind, JobHandler> = {
  grant: runGrant,
  revoke: runRevoke,
  extend: runExtend,
  timeout: runTimeout,
  notify: runNotify,
  remind: runRemind,
  expiry_warning: runExpiryWarning,
  prune_audit: runPruneAudit,
  reconcile: runReconcile,
  activate: runActivate,
  lapse: runLapse,
  incident_note: runIncidentNote,
  oncall_handover: runOncallHandover,
  emergency_review: runEmergencyReview,
  identity_sync: runIdentitySync,
  discovery_digest: runDiscoveryDigest,
  discovery_sample: runDiscoverySample,
  rds_discovery: runRdsDiscovery,
};

/** Kinds whose jobs, claimed together, run as one batch (jobs/runner.ts); the rest run one by one. */
export const jobBatchHandlers: Partial<Record<JobKind, JobBatchHandler>> = {
  revoke: runRevokes,
};
