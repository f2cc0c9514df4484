/**
 * Who people are and how they relate. The config file is the first source; identity
 * providers and on-call schedules plug in behind the same questions.
 */
export interface Directory {
  /** Every e-mail address in the group, through nested groups. Unknown group: empty. */
  membersOf(group: string): ReadonlySet<string>;
  managerOf(email: string): string | null;
  isAdmin(email: string): boolean;
  /** Who is on call for a schedule right now; empty when no source answers for it. */
  onCall(schedule: string): ReadonlySet<string>;
  displayName(email: string): string;
  /**
   * Why Latch no longer acts for this person (an identity source reports them disabled or
   * gone), or null. Such a person requests nothing and decides nothing, whatever names them.
   */
  departed(email: string): string | null;
  /** Admins, for alerts. */
  admins(): ReadonlySet<string>;
}
