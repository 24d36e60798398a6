/**
 * Maps a denied decision to its default response: an RFC 9457 `application/problem+json`
 * document. Both adapters send exactly what this returns, so Express and Koa answer alike.
 */
import type { Decision, DecisionReason } from '../engine/types.js';
import { ConfigurationError } from '../errors.js';
import type { HttpResponseSpec, ProblemDocument } from './types.js';
import { usageHeaders } from './usage-headers.js';

/** The media type of every Tollgate denial (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Base of the problem `type` URIs; each is documented in packages/core/src/http/README.md. */
const PROBLEM_BASE = 'https://tollgate.dev/problems/';

type DeniedReason = Exclude<DecisionReason, 'licensed'>;

interface ProblemKind {
  status: number;
  type: string;
  title: string;
  detail: (featureId: string) => string;
}

/**
 * The problem kinds, by decision reason. Status choices: 401 when we cannot tell who is asking
 * (RFC 9110 §15.5.2), 403 when we can and the answer is no, 402 when the paid-for allocation
 * is used up (the one case where paying more fixes it), 503 when the service is unreachable.
 *
 * @example
 * PROBLEM_TYPES.exhausted.type; // 'https://tollgate.dev/problems/exhausted'
 */
export const PROBLEM_TYPES: Readonly<Record<DeniedReason | 'invalid_amount', Readonly<ProblemKind>>> = {
  no_subject: {
    status: 401,
    type: `${PROBLEM_BASE}no-subject`,
    title: 'Authentication required',
    detail: (f) => `Sign in to use "${f}": the request did not identify a user.`,
  },
  not_licensed: {
    status: 403,
    type: `${PROBLEM_BASE}not-licensed`,
    title: 'Feature not licensed',
    detail: (f) => `No active licence grants "${f}". Upgrade your plan to use it.`,
  },
  expired: {
    status: 403,
    type: `${PROBLEM_BASE}expired`,
    title: 'Licence expired',
    detail: (f) => `The licence that granted "${f}" has expired. Renew it to keep using the feature.`,
  },
  exhausted: {
    status: 402,
    type: `${PROBLEM_BASE}exhausted`,
    title: 'Allocation exhausted',
    detail: (f) => `The allocation of "${f}" is used up. Buy more or upgrade your plan.`,
  },
  unavailable: {
    status: 503,
    type: `${PROBLEM_BASE}unavailable`,
    title: 'Entitlement service unavailable',
    detail: (f) => `Could not check "${f}" because the entitlement service is unreachable. Retry later.`,
  },
  invalid_amount: {
    status: 400,
    type: `${PROBLEM_BASE}invalid-amount`,
    title: 'Invalid usage amount',
    detail: (f) => `The amount to charge for "${f}" is not a finite number greater than 0.`,
  },
};

/** Options of {@link denialResponse}. */
export interface DenialResponseOptions {
  /** Where the user can upgrade; added as the `upgradeUrl` member when given. */
  upgradeUrl?: string | undefined;
  /**
   * Seconds sent in `Retry-After` with a 503 `unavailable` (RFC 9110 §10.2.3).
   * @default 5
   */
  retryAfterSeconds?: number | undefined;
  /**
   * `WWW-Authenticate` value sent with a 401 `no_subject` (e.g. `Bearer realm="app"`). RFC 9110
   * §15.5.2 asks for one on every 401, but only the app knows its scheme, so it is opt-in.
   */
  wwwAuthenticate?: string | undefined;
}

/**
 * The default response for a denied decision: status, headers (`Content-Type`,
 * `Retry-After` on 503, the usage headers when `remaining` is known) and the problem document.
 * Throws a `ConfigurationError` for an allowed decision: there is nothing to deny.
 *
 * @example
 * const { status, headers, body } = denialResponse(decision, { upgradeUrl: 'https://app.example/billing' });
 * // 402, { 'Content-Type': 'application/problem+json', ratelimit: '"sms";r=0', … },
 * // { type: 'https://tollgate.dev/problems/exhausted', status: 402, reason: 'exhausted', … }
 */
export function denialResponse(decision: Decision, options: DenialResponseOptions = {}): HttpResponseSpec {
  if (decision.allowed || decision.reason === 'licensed') {
    throw new ConfigurationError(
      `denialResponse() was given an allowed decision for "${decision.featureId}"; call it only when decision.allowed is false.`,
    );
  }
  const kind = PROBLEM_TYPES[decision.reason];
  const body: ProblemDocument = {
    type: kind.type,
    title: kind.title,
    status: kind.status,
    detail: kind.detail(decision.featureId),
    featureId: decision.featureId,
    reason: decision.reason,
  };
  if (decision.planId !== undefined) body.planId = decision.planId;
  if (decision.remaining !== undefined) body.remaining = decision.remaining;
  if (options.upgradeUrl !== undefined) body.upgradeUrl = options.upgradeUrl;

  const headers: Record<string, string> = {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    ...usageHeaders([decision]),
  };
  if (decision.reason === 'unavailable') headers['Retry-After'] = String(options.retryAfterSeconds ?? 5);
  if (decision.reason === 'no_subject' && options.wwwAuthenticate !== undefined) {
    headers['WWW-Authenticate'] = options.wwwAuthenticate;
  }
  return { status: kind.status, headers, body };
}

/**
 * The 400 response for a request whose usage amount (from a `meter` amount function) is not a
 * finite number greater than 0. Nothing is charged for such a request.
 *
 * @example
 * const { status, body } = invalidAmountResponse('sms'); // 400, reason 'invalid_amount'
 */
export function invalidAmountResponse(featureId: string): HttpResponseSpec {
  const kind = PROBLEM_TYPES.invalid_amount;
  return {
    status: kind.status,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE },
    body: {
      type: kind.type,
      title: kind.title,
      status: kind.status,
      detail: kind.detail(featureId),
      featureId,
      reason: 'invalid_amount',
    },
  };
}
