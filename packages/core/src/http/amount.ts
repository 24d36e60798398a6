/**
 * The amount a `meter` gate charges: a constant checked once at setup, or a function of the
 * request checked on every request (a bad result is the client's problem: a 400, no charge).
 */
import { ConfigurationError, InvalidAmountError } from '../errors.js';
import { isPromiseLike, type MaybePromise } from './maybe-promise.js';

/** A fixed amount, or a function of the framework's request (or Koa context). */
export type AmountSource<Req> = number | ((req: Req) => MaybePromise<number>);

/**
 * True for a finite number greater than 0: the only amounts Tollgate charges.
 *
 * @example
 * isValidAmount(0.2); // true
 * isValidAmount(Number.NaN); // false
 */
export function isValidAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * Checks a `meter` amount option when the gate is created: a function, or a finite number
 * greater than 0. Throws a `ConfigurationError` otherwise.
 *
 * @example
 * assertAmountSource('sms', 1); // ok
 * assertAmountSource('sms', 0); // throws ConfigurationError
 */
export function assertAmountSource(featureId: string, source: unknown): void {
  if (typeof source === 'function' || isValidAmount(source)) return;
  throw new ConfigurationError(
    `meter("${featureId}", amount): amount must be a finite number > 0 or a function (req) => number; got ${String(source)}.`,
  );
}

/**
 * The amount for this request, synchronously when the source is a number. Rejects (or throws)
 * an `InvalidAmountError` when the function returns anything but a finite number > 0; errors
 * thrown by the function itself propagate unchanged.
 *
 * @example
 * await resolveAmount((req: { body: { count: number } }) => req.body.count, { body: { count: 3 } }, 'sms'); // 3
 */
export function resolveAmount<Req>(
  source: AmountSource<Req>,
  req: Req,
  featureId: string,
): MaybePromise<number> {
  // A constant was checked when the gate was created: nothing to do per request.
  if (typeof source !== 'function') return source;
  const raw = source(req);
  return isPromiseLike(raw)
    ? Promise.resolve(raw).then((amount) => checkedAmount(amount, featureId))
    : checkedAmount(raw, featureId);
}

function checkedAmount(amount: unknown, featureId: string): number {
  if (!isValidAmount(amount)) {
    throw new InvalidAmountError(
      `The amount function of meter("${featureId}") returned ${String(amount)}; return a finite number > 0.`,
      { amount, featureId },
    );
  }
  return amount;
}
