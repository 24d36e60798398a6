// Shared settings of the benchmark processes (bench/run.mjs starts them).
import { memoryProvider } from '@tollgate/core';

export const CREDENTIALS = { key: 'bench-key', secret: 'bench-secret' };
export const CATALOG = {
  plans: [{ id: 'bench', name: 'Bench', features: { reports: true, sms: 1_000_000_000 } }],
};
/** Distinct subjects the cache-hit variants cycle through. */
export const SUBJECTS = 10_000;
/** Distinct subjects of the metered variants (each has its own flush key). */
export const METER_SUBJECTS = 100;
export const subjectName = (i) => `u${i}`;
/** The first `count` subjects' names. */
export const subjectIds = (count = SUBJECTS) => Array.from({ length: count }, (_, i) => subjectName(i));

/** The in-memory provider with the bench catalog, every one of `ids` licensed on its plan. */
export const licensedInMemory = (ids) =>
  memoryProvider({
    plans: CATALOG.plans,
    licenses: ids.map((id) => ({ subject: { externalUserId: id }, planId: 'bench' })),
  });

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
