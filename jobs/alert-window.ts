// One outage, one page. When a backend goes away, every revocation on it fails at about
// the same time; the admins need to hear that once per integration, not once per grant.
// The cards' threads still record each failing revocation.

/** How long after an alert about an integration further alerts about it stay out of people's DMs. */
export const ALERT_QUIET_MS = 10 * 60_000;

export class AlertWindow {
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly quietMs = ALERT_QUIET_MS) {}

  /** True (and the window starts) when no alert about any of `keys` went out within the window. */
  admit(keys: readonly string[], now: number): boolean {
    const recent = keys.some((key) => now - (this.lastSent.get(key) ?? Number.NEGATIVE_INFINITY) < this.quietMs);
    if (recent) return false;
    for (const key of keys) this.lastSent.set(key, now);
    return true;
  }
}

// One window per running Latch (keyed by its store), so embedded or test instances do not share one.
const windows = new WeakMap<object, AlertWindow>();

export function alertWindowOf(owner: object): AlertWindow {
  let window = windows.get(owner);
  if (!window) {
    window = new AlertWindow();
    windows.set(owner, window);
  }
  return window;
}
