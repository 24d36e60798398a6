/** Shared fixtures for the engine's unit tests (excluded from the build: `test-*.ts`). */

import { type MemoryFixture, memoryProvider } from '../testing/memory-provider.js';
import type { Plan, Subject } from '../types.js';
import { createTollgate } from './create-tollgate.js';
import type { Tollgate, TollgateOptions } from './types.js';

export const alice: Subject = { externalUserId: 'alice' };
export const bob: Subject = { userId: 'bob' };

export const plans: Plan[] = [
  { id: 'pro', name: 'Pro', features: { reports: true, sms: 100, mms: 10 } },
  { id: 'basic', name: 'Basic', features: { reports: true }, durationDays: 30 },
  { id: 'trial', name: 'Trial', features: { sms: 5 }, trialDays: 7 },
];

export function setup(
  fixture: Partial<MemoryFixture> = {},
  options: Omit<TollgateOptions, 'provider'> = {},
): { provider: ReturnType<typeof memoryProvider>; tollgate: Tollgate } {
  const provider = memoryProvider({
    plans,
    licenses: [{ subject: alice, planId: 'pro' }],
    ...fixture,
  });
  const tollgate = createTollgate({ provider, ...options });
  return { provider, tollgate };
}
