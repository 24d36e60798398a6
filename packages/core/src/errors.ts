/**
 * Typed errors. Every error Tollgate throws is a `TollgateError` with a stable `code`
 * (documented in the package README), a message that says what to do, and the `cause`.
 * Messages never contain credentials.
 */

const BRAND = Symbol.for('tollgate.error');

/** Stable error codes. Documented once, in packages/core/README.md. */
export type TollgateErrorCode =
  | 'TOLLGATE_CONFIG'
  | 'TOLLGATE_HTTP'
  | 'TOLLGATE_UNAVAILABLE'
  | 'TOLLGATE_INVALID_RESPONSE'
  | 'TOLLGATE_EXHAUSTED'
  | 'TOLLGATE_INVALID_AMOUNT'
  | 'TOLLGATE_CLOSED'
  /** The service does not offer an optional call (e.g. batched adjustments): fall back. */
  | 'TOLLGATE_UNSUPPORTED'
  /** A wizard token that is malformed, forged or expired (thrown by @tollgate/server). */
  | 'TOLLGATE_INVALID_TOKEN';

export interface TollgateErrorOptions {
  cause?: unknown;
}

/** Base class of every Tollgate error. Use {@link isTollgateError} rather than `instanceof`. */
export class TollgateError extends Error {
  readonly code: TollgateErrorCode;

  constructor(code: TollgateErrorCode, message: string, options: TollgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TollgateError';
    this.code = code;
    // A brand rather than `instanceof` so guards work across duplicate installs (ESM + CJS).
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** A bad option or setup mistake: thrown when a factory runs, never at request time. */
export class ConfigurationError extends TollgateError {
  /** zod issues when the options failed schema validation. */
  readonly issues: readonly unknown[];
  constructor(message: string, options: TollgateErrorOptions & { issues?: readonly unknown[] } = {}) {
    super('TOLLGATE_CONFIG', message, options);
    this.name = 'ConfigurationError';
    this.issues = options.issues ?? [];
  }
}

/** The service answered with an error status. `serviceCode` is the `code` from its body. */
export class HttpError extends TollgateError {
  readonly status: number;
  readonly serviceCode: string | undefined;
  readonly method: string;
  /** Path only (no query string, no host credentials). */
  readonly path: string;
  constructor(
    message: string,
    details: { status: number; serviceCode?: string | undefined; method: string; path: string },
    options: TollgateErrorOptions = {},
  ) {
    super('TOLLGATE_HTTP', message, options);
    this.name = 'HttpError';
    this.status = details.status;
    this.serviceCode = details.serviceCode;
    this.method = details.method;
    this.path = details.path;
  }
}

/** The service could not be reached in time (timeout, refused, reset, circuit open). */
export class UnavailableError extends TollgateError {
  readonly reason: 'timeout' | 'refused' | 'reset' | 'aborted' | 'circuit_open' | 'network';
  constructor(message: string, reason: UnavailableError['reason'], options: TollgateErrorOptions = {}) {
    super('TOLLGATE_UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
    this.reason = reason;
  }
}

/** The service answered something that does not match the documented format. */
export class InvalidResponseError extends TollgateError {
  readonly issues: readonly unknown[];
  constructor(message: string, options: TollgateErrorOptions & { issues?: readonly unknown[] } = {}) {
    super('TOLLGATE_INVALID_RESPONSE', message, options);
    this.name = 'InvalidResponseError';
    this.issues = options.issues ?? [];
  }
}

/** A conditional (`floor: 0`) usage change was refused: not enough allocation left. */
export class AllocationExhaustedError extends TollgateError {
  readonly featureId: string;
  /** What was available when the change was refused, when the service said. */
  readonly available: number | undefined;
  constructor(
    message: string,
    details: { featureId: string; available?: number | undefined },
    options: TollgateErrorOptions = {},
  ) {
    super('TOLLGATE_EXHAUSTED', message, options);
    this.name = 'AllocationExhaustedError';
    this.featureId = details.featureId;
    this.available = details.available;
  }
}

/** An amount that is not a finite number > 0 (or, where allowed, a finite number). */
export class InvalidAmountError extends TollgateError {
  readonly amount: unknown;
  readonly featureId: string | undefined;
  constructor(
    message: string,
    details: { amount: unknown; featureId?: string | undefined },
    options: TollgateErrorOptions = {},
  ) {
    super('TOLLGATE_INVALID_AMOUNT', message, options);
    this.name = 'InvalidAmountError';
    this.amount = details.amount;
    this.featureId = details.featureId;
  }
}

/** Work was submitted after `close()`. */
export class ClosedError extends TollgateError {
  constructor(
    message = 'This Tollgate instance is closed; create a new one with createTollgate() to keep working.',
  ) {
    super('TOLLGATE_CLOSED', message);
    this.name = 'ClosedError';
  }
}

/**
 * The service does not offer an optional call, such as `adjustAllocations` on a Licensario
 * service without our batch endpoint. Callers fall back to the plain calls.
 */
export class UnsupportedError extends TollgateError {
  constructor(message: string, options: TollgateErrorOptions = {}) {
    super('TOLLGATE_UNSUPPORTED', message, options);
    this.name = 'UnsupportedError';
  }
}

/** True for any Tollgate error, even one thrown by another copy of this package. */
export function isTollgateError(value: unknown): value is TollgateError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** True for a Tollgate error with the given code. */
export function hasErrorCode<C extends TollgateErrorCode>(
  value: unknown,
  code: C,
): value is TollgateError & { code: C } {
  return isTollgateError(value) && value.code === code;
}
