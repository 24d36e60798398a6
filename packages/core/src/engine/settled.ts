/**
 * The one already-resolved promise a settle step returns when it finished synchronously (a
 * batched commit that only queued). Callers compare against it to skip a `.then` — a
 * microtask per metered request — when there is nothing to wait for.
 */
export const SETTLED: Promise<void> = Promise.resolve();
