/**
 * `ISV_API_KEY` / `ISV_API_SECRET` authentication (Licensario REST API, "Authentication").
 * Compared in constant time over fixed-length digests, so neither the length nor the prefix
 * of a configured credential leaks through timing; every pair is compared, no early exit.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** One accepted key/secret pair. Several pairs allow rotation. */
export interface Credential {
  key: string;
  secret: string;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * A checker for request headers against the configured pairs.
 *
 * @example
 * const isAuthorized = createAuthenticator([{ key: 'k', secret: 's' }]);
 * isAuthorized(req.headers); // boolean
 */
export function createAuthenticator(
  credentials: readonly Credential[],
): (headers: IncomingHttpHeaders) => boolean {
  const expected = credentials.map((c) => ({ key: digest(c.key), secret: digest(c.secret) }));
  return (headers) => {
    // Node lower-cases header names, so any spelling of ISV_API_KEY arrives as isv_api_key.
    const key = headers.isv_api_key;
    const secret = headers.isv_api_secret;
    if (typeof key !== 'string' || typeof secret !== 'string') return false;
    const givenKey = digest(key);
    const givenSecret = digest(secret);
    let ok = 0;
    for (const pair of expected) {
      // Both comparisons always run: `&&` would reveal through timing that the key matched.
      const keyMatches = timingSafeEqual(givenKey, pair.key) ? 1 : 0;
      const secretMatches = timingSafeEqual(givenSecret, pair.secret) ? 1 : 0;
      ok |= keyMatches & secretMatches;
    }
    return ok === 1;
  };
}
