/** Shared fixtures for the engine's unit tests (excluded from the build: `test-*.ts`). */

import { afterEach, beforeEach, vi } from 'vitest';
import { type MemoryFixture, memoryProvider } from '../testing/memory-provider.js';
import type { Plan, Subject } from '../types.js';
import { createTollgate } from './create-tollgate.js';
import type { Tollgate, TollgateEventName, TollgateEvents, TollgateOptions } from './types.js';

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
  const tollgate = openTollgate({ provider, ...options });
  return { provider, tollgate };
}

/** Tollgates the running test opened (through `setup` or `openTollgate`), closed after it. */
const opened: Tollgate[] = [];

/**
 * `createTollgate`, closed when the test ends (see `useEngineTestLifecycle`).
 *
 * @example
 * const tollgate = openTollgate({ provider, meter: { mode: 'sync' } });
 */
export function openTollgate(options: TollgateOptions): Tollgate {
  const tollgate = createTollgate(options);
  opened.push(tollgate);
  return tollgate;
}

/**
 * Call once at the top of an engine test file: each test runs on fake timers starting at
 * 2026-01-01T00:00:00Z, and every tollgate it opened is closed (without waiting for a flush)
 * before real timers come back, so no test leaks timers into the next.
 *
 * @example
 * useEngineTestLifecycle();
 */
export function useEngineTestLifecycle(): void {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
  });
  afterEach(async () => {
    for (const tollgate of opened.splice(0)) await tollgate.close({ timeoutMs: 0 });
    vi.useRealTimers();
  });
}

/**
 * Collects the payloads of one event, in order.
 *
 * @example
 * const dropped = record(tollgate, 'usage:dropped');
 */
export function record<E extends TollgateEventName>(t: Tollgate, event: E): TollgateEvents[E][] {
  const seen: TollgateEvents[E][] = [];
  t.on(event, (payload) => seen.push(payload));
  return seen;
}
