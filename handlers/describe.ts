import type { ChannelTarget, LatchConfig } from '../config/schema.js';
import { formatDuration } from '../core/duration.js';
import { describeState } from '../core/lifecycle.js';
import type { AccessItem, RequestRecord } from '../core/types.js';

export function describeItem(item: AccessItem): string {
  return `${item.permission} on ${item.integration}/${item.resource}`;
}

/** "read on orders-pg/orders-primary for 1h" or "bundle orders-incident for 1h". */
export function describeAccess(record: RequestRecord): string {
  const { request, grants } = record;
  const what = request.bundle ? `bundle ${request.bundle}` : grants.map(describeItem).join(', ');
  return `${what} for ${formatDuration(request.durationMs)}`;
}

/** Why a request can't be acted on, naming who decided it where that is known. */
export function alreadyDecided(record: RequestRecord): string {
  const { request } = record;
  const by = request.decidedBy && request.decidedBy !== 'latch' ? ` by ${request.decidedBy}` : '';
  switch (request.state) {
    case 'approved': case 'granting': case 'active': return `Request ${request.id} was already approved${by}.`;
    case 'denied': return `Request ${request.id} was already denied${by}.`;
    case 'cancelled': return `Request ${request.id} was cancelled${request.endedBy ? ` by ${request.endedBy}` : ''}.`;
    default: return `Request ${request.id} ${describeState(request.state)}.`;
  }
}

export function approvalChannels(config: LatchConfig, flowName: string): ChannelTarget[] {
  return config.flows.find((flow) => flow.name === flowName)?.notify.channels ?? [];
}
