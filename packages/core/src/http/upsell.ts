/**
 * The upgrade page address a denied user is sent to (a 303 for browsers, `upgradeUrl` in the
 * problem document for API clients).
 */
import type { Decision, DecisionReason } from '../engine/types.js';
import { ConfigurationError } from '../errors.js';
import { prefersHtml } from './accept.js';
import { denialResponse } from './problem.js';
import { safeReturnTo } from './return-to.js';
import type { HttpResponseSpec } from './types.js';

/** Input of {@link upsellLocation}. */
export interface UpsellLocationInput {
  /** The upgrade page: an absolute URL or a path on this site. Its own query is kept. */
  to: string;
  featureId: string;
  planId?: string | undefined;
  /** Where to come back to; dropped unless it is a same-origin path (see `safeReturnTo`). */
  returnTo?: string | undefined;
}

// Resolves paths without inventing an origin; never appears in the output.
const PATH_BASE = 'http://upsell.invalid';

/**
 * `to` with `feature`, `plan` (when known) and a validated `return_to` added to its query
 * (existing parameters of the same names are replaced). A relative `to` stays relative.
 *
 * @example
 * upsellLocation({ to: '/pricing', featureId: 'reports', planId: 'pro', returnTo: '/reports?y=2025' });
 * // '/pricing?feature=reports&plan=pro&return_to=%2Freports%3Fy%3D2025'
 * upsellLocation({ to: '/pricing', featureId: 'reports', returnTo: 'https://evil.example' });
 * // '/pricing?feature=reports'
 */
export function upsellLocation(input: UpsellLocationInput): string {
  const url = new URL(input.to, PATH_BASE);
  url.searchParams.set('feature', input.featureId);
  if (input.planId !== undefined) url.searchParams.set('plan', input.planId);
  else url.searchParams.delete('plan');
  const returnTo = safeReturnTo(input.returnTo);
  if (returnTo !== undefined) url.searchParams.set('return_to', returnTo);
  else url.searchParams.delete('return_to');
  if (url.origin === PATH_BASE && !/^[a-z][a-z0-9+.-]*:/i.test(input.to)) {
    return `${url.pathname}${url.search}${url.hash}`;
  }
  return url.href;
}

/** Options of {@link upsellDecision} (and of the adapters' `upsellRedirect`). */
export interface UpsellOptions {
  /** The upgrade page: an absolute URL or a path on this site. */
  to: string;
  /**
   * The denial reasons that send the user to the upgrade page; other denials get the default
   * problem response.
   * @default ['not_licensed', 'expired', 'exhausted']
   */
  reasons?: readonly DecisionReason[];
}

/** What an upsell `onDenied` does: redirect a browser, or answer a problem document. */
export type UpsellAnswer =
  | { kind: 'redirect'; status: 303; location: string }
  | { kind: 'problem'; response: HttpResponseSpec };

const DEFAULT_UPSELL_REASONS: readonly DecisionReason[] = ['not_licensed', 'expired', 'exhausted'];

/**
 * Checks `upsellRedirect` options at setup; throws a `ConfigurationError` naming the problem.
 *
 * @example
 * assertUpsellOptions({ to: '/pricing' });
 */
export function assertUpsellOptions(options: UpsellOptions): void {
  if (typeof options?.to !== 'string' || options.to.length === 0) {
    throw new ConfigurationError(
      'upsellRedirect({ to }): `to` must be the upgrade page, a URL or a path like "/pricing".',
    );
  }
  try {
    new URL(options.to, PATH_BASE);
  } catch (cause) {
    throw new ConfigurationError(`upsellRedirect({ to }): "${options.to}" is not a valid URL or path.`, {
      cause,
    });
  }
}

/**
 * The upsell answer to a denied decision. A browser (`Accept` prefers `text/html`) is sent
 * with a 303 (RFC 9110 §15.4.4: "see other", the method becomes GET) to `to` carrying
 * `feature`, `plan` and `return_to`; an API client gets the default problem document with
 * `upgradeUrl`. Reasons outside `reasons` (e.g. `unavailable`) always get the problem document.
 *
 * @example
 * upsellDecision(decision, { to: '/pricing' }, { accept: req.headers.accept, returnTo: req.originalUrl });
 * // { kind: 'redirect', status: 303, location: '/pricing?feature=reports&plan=pro&return_to=%2Freports' }
 */
export function upsellDecision(
  decision: Decision,
  options: UpsellOptions,
  request: { accept: string | readonly string[] | undefined; returnTo: string | undefined },
): UpsellAnswer {
  const reasons = options.reasons ?? DEFAULT_UPSELL_REASONS;
  if (!reasons.includes(decision.reason)) return { kind: 'problem', response: denialResponse(decision) };
  const base = { to: options.to, featureId: decision.featureId, planId: decision.planId };
  if (prefersHtml(request.accept)) {
    return {
      kind: 'redirect',
      status: 303,
      location: upsellLocation({ ...base, returnTo: request.returnTo }),
    };
  }
  return { kind: 'problem', response: denialResponse(decision, { upgradeUrl: upsellLocation(base) }) };
}
