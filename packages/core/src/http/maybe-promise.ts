/**
 * Values that are sometimes ready and sometimes not. The gates' hot path (a cached decision)
 * must reach `next()` without a promise, so helpers pass plain values through synchronously.
 */

/** A value now or later. */
export type MaybePromise<T> = T | PromiseLike<T>;

/**
 * True for promises and other thenables.
 *
 * @example
 * isPromiseLike(Promise.resolve(1)); // true
 * isPromiseLike(1); // false
 */
export function isPromiseLike<T>(value: MaybePromise<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * `fn(value)` now when `value` is plain, after it settles when it is a promise. A synchronous
 * throw from `fn` propagates synchronously.
 *
 * @example
 * const doubled = chain(cached ?? fetchNumber(), (n) => n * 2); // a number or a promise of one
 */
export function chain<T, U>(value: MaybePromise<T>, fn: (resolved: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromiseLike(value) ? Promise.resolve(value).then(fn) : fn(value);
}
