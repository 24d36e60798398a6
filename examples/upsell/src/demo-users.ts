/**
 * The demo users the home page offers to sign in as, and the seeding that gives them their
 * starting entitlements at the service.
 */
import type { EntitlementProvider, Subject } from '@tollgate/core';

/** A user of the demo app. `planId` is what the seed gives them (none for `carol`). */
export interface DemoUser {
  id: string;
  name: string;
  email: string;
  /** Plan licensed at seed time; absent = no licence at all. */
  planId?: string;
  /** What the home page says about this user. */
  blurb: string;
}

/**
 * Units of `sms` left to alice after seeding: few enough that the demo (and the E2E test)
 * reaches "exhausted" in a handful of clicks, whatever the free plan's allocation is.
 *
 * @example
 * await provider.setAllocation({ externalUserId: 'alice' }, 'sms', ALICE_SMS);
 */
export const ALICE_SMS = 3;

/**
 * alice is on the free plan (a few SMS left), bob on pro, carol has no licence.
 *
 * @example
 * DEMO_USERS.map((u) => u.id); // ['alice', 'bob', 'carol']
 */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    id: 'alice',
    name: 'Alice',
    email: 'alice@example.com',
    planId: 'free',
    blurb: `Free plan, ${ALICE_SMS} SMS left.`,
  },
  { id: 'bob', name: 'Bob', email: 'bob@example.com', planId: 'pro', blurb: 'Pro plan: reports and SMS.' },
  {
    id: 'carol',
    name: 'Carol',
    email: 'carol@example.com',
    blurb: 'No licence at all: Reports sends her to the upgrade page.',
  },
];

/**
 * The demo user with this id, or `undefined`.
 *
 * @example
 * findDemoUser('bob')?.planId; // 'pro'
 */
export function findDemoUser(id: string | undefined): DemoUser | undefined {
  return id === undefined ? undefined : DEMO_USERS.find((u) => u.id === id);
}

/**
 * How the app names a demo user to Tollgate: as an external user (the host app's own id),
 * the way a real app names its signed-in users.
 *
 * @example
 * subjectOf(findDemoUser('alice')!); // { externalUserId: 'alice', email: 'alice@example.com' }
 */
export function subjectOf(user: DemoUser): Subject {
  return { externalUserId: user.id, email: user.email };
}

/**
 * Gives every demo user their starting entitlements at the service. Idempotent: run it on
 * every start (licences are ensured, not created; alice's SMS are reset to {@link ALICE_SMS}).
 *
 * @example
 * await seedDemoUsers(tollgate.provider);
 */
export async function seedDemoUsers(provider: EntitlementProvider): Promise<void> {
  for (const user of DEMO_USERS) {
    await provider.ensureExternalUser(user.id, user.email);
    if (user.planId !== undefined) await provider.ensureLicense(subjectOf(user), user.planId);
  }
  const alice = findDemoUser('alice');
  if (alice !== undefined) await provider.setAllocation(subjectOf(alice), 'sms', ALICE_SMS);
}
