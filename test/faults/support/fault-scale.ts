// The fault tests run in two sizes: a short form inside `npm test`, and the full size the
// issue names with `npm run test:faults` (LATCH_FAULTS=full). Same code, same assertions.
export const FULL = process.env.LATCH_FAULTS === 'full';

export const SCALE = {
  /** Grant/revoke cycles while Latch is killed at random moments. */
  crashCycles: FULL ? 200 : 16,
  /** Expiries while the backend is unreachable. */
  backendDownExpiries: FULL ? 100 : 20,
  /** Grants left to expire while Latch is stopped. */
  overdueGrants: FULL ? 5_000 : 100,
  /** Forged or malformed deliveries. */
  forgedRequests: FULL ? 1_000 : 200,
  /** Replays of one valid delivery. */
  replays: 100,
} as const;

/** Room for a slow, shared CI machine: the full size runs for minutes. */
export const FAULT_TIMEOUT_MS = FULL ? 900_000 : 180_000;
