/**
 * A request the service refuses, with the HTTP status and the wire `code` of the README's
 * error table. The store and the routes throw it; the HTTP layer turns it into an error
 * document and `localProvider` into core's `HttpError` / `AllocationExhaustedError`.
 */

/** Wire error codes (packages/server/README.md, "Error codes"). */
export type ServiceErrorCode =
  | 'invalid_request'
  | 'invalid_amount'
  | 'unauthorized'
  | 'not_found'
  | 'unknown_plan'
  | 'unknown_license'
  | 'no_license'
  | 'exhausted'
  | 'trial_used'
  | 'no_trial'
  | 'payload_too_large'
  | 'idempotency_mismatch'
  | 'internal';

/**
 * A refusal with its HTTP status and wire code.
 *
 * @example
 * throw new ServiceError(404, 'unknown_plan', 'Plan "gold" is not in the catalog.');
 */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: ServiceErrorCode;
  /** For `exhausted`: what was available when the change was refused. */
  readonly available: string | undefined;

  constructor(status: number, code: ServiceErrorCode, message: string, details: { available?: string } = {}) {
    super(message);
    this.name = 'ServiceError';
    this.status = status;
    this.code = code;
    this.available = details.available;
  }
}
