/**
 * Response headers that tell a client what is left of its metered allocations.
 *
 * `RateLimit` follows draft-ietf-httpapi-ratelimit-headers (Structured Field list, one item
 * per policy, named by a string, with the `r` = remaining-units parameter, an Integer). The
 * policy name is the feature id. We do not send `RateLimit-Policy` (it requires the quota `q`)
 * or the `t` reset parameter: an allocation is a balance, not a window that resets.
 *
 * Allocations may be decimals ("12.38"), and `r` must be a non-negative Integer, so
 * `RateLimit` rounds down and `Tollgate-Remaining` carries the exact value in the same shape:
 * `"sms";r=12.38` (an sf-decimal, at most 3 fractional digits).
 *
 * Both names are written in lowercase, as HTTP/2 and HTTP/3 send every field name (HTTP/1.1
 * names are case-insensitive, RFC 9110 §5.1). Node's `setHeader` lowercases the name it is
 * given on every call: a mixed-case name costs a new string and a string-table lookup per
 * header per metered request, a lowercase literal neither.
 */
import type { Decision } from '../engine/types.js';

/** Name of the draft-standard header carrying remaining units (rounded down). */
export const RATELIMIT_HEADER = 'ratelimit';
/** Name of the header carrying exact remaining amounts. */
export const REMAINING_HEADER = 'tollgate-remaining';

// sf-integer and sf-decimal limits (RFC 9651 §3.3.1, §3.3.2).
const MAX_SF_INTEGER = 999_999_999_999_999;
const MAX_SF_DECIMAL = 999_999_999_999.999;

/** An sf-string, or undefined when the id has characters an sf-string cannot carry. */
function sfString(value: string): string | undefined {
  // The usual id (printable, no quote or backslash) needs no escaping: skip the replace.
  if (PLAIN_SF_STRING.test(value)) return `"${value}"`;
  if (/[^\x20-\x7e]/.test(value)) return undefined;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const PLAIN_SF_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function sfInteger(value: number): string {
  return String(Math.min(MAX_SF_INTEGER, Math.max(0, Math.floor(value))));
}

function sfDecimal(value: number): string {
  const clamped = Math.min(MAX_SF_DECIMAL, Math.max(0, value));
  if (Number.isInteger(clamped)) return String(clamped);
  // Round down so the header never promises more than is there.
  const rounded = Math.floor(clamped * 1000) / 1000;
  return Number.isInteger(rounded) ? `${rounded}.0` : String(rounded);
}

/**
 * The usage headers for the decisions of a request's metered gates (decisions without a
 * finite `remaining` are skipped; an empty object when none has one).
 *
 * - `ratelimit: "sms";r=41, "mms";r=2` — remaining units, rounded down, per the IETF draft.
 * - `tollgate-remaining: "sms";r=41.5, "mms";r=2` — the exact remaining amounts.
 *
 * @example
 * usageHeaders([{ featureId: 'sms', remaining: 41.5, allowed: true, reason: 'licensed', source: 'backend', ageMs: 0 }]);
 * // { ratelimit: '"sms";r=41', 'tollgate-remaining': '"sms";r=41.5' }
 */
export function usageHeaders(decisions: readonly Decision[]): Record<string, string> {
  const limits: string[] = [];
  const exact: string[] = [];
  const seen = new Set<string>();
  // Latest decision per feature wins: iterate from the end.
  for (let i = decisions.length - 1; i >= 0; i--) {
    const decision = decisions[i];
    if (decision === undefined || seen.has(decision.featureId)) continue;
    seen.add(decision.featureId);
    const name = usageName(decision);
    if (name === undefined) continue;
    const remaining = decision.remaining as number;
    limits.unshift(`${name};r=${sfInteger(remaining)}`);
    exact.unshift(`${name};r=${sfDecimal(remaining)}`);
  }
  if (limits.length === 0) return {};
  return { [RATELIMIT_HEADER]: limits.join(', '), [REMAINING_HEADER]: exact.join(', ') };
}

/**
 * Calls `set(name, value, target)` for each usage header of a request's decisions (by feature
 * id, as in `req.tollgate.decisions`): the same headers as {@link usageHeaders}, without
 * building arrays and objects for the usual route with one metered gate. `target` is handed
 * to `set` as is, so a setter defined once (not a closure over this request) can reach the
 * response.
 *
 * @example
 * const setHeader = (name: string, value: string, res: ServerResponse) => res.setHeader(name, value);
 * forEachUsageHeader(req.tollgate.decisions, setHeader, res);
 */
export function forEachUsageHeader<T = undefined>(
  decisions: Readonly<Record<string, Decision>>,
  set: (name: string, value: string, target: T) => void,
  target?: T,
): void {
  let only: Decision | undefined;
  for (const featureId in decisions) {
    if (only !== undefined) {
      for (const [name, value] of Object.entries(usageHeaders(Object.values(decisions)))) {
        set(name, value, target as T);
      }
      return;
    }
    only = decisions[featureId];
  }
  if (only === undefined || usageName(only) === undefined) return;
  // usageName vouched for a finite `remaining`, and kept the id's `"name";r=` prefix.
  const remaining = only.remaining as number;
  const limit = lastPrefix + sfInteger(remaining);
  set(RATELIMIT_HEADER, limit, target as T);
  // A whole amount (the usual balance) reads the same in both: one string, not two.
  const exact =
    Number.isInteger(remaining) && remaining <= MAX_SF_DECIMAL ? limit : lastPrefix + sfDecimal(remaining);
  set(REMAINING_HEADER, exact, target as T);
}

// The last id named, its name and `"name";r=`: most metered routes charge one feature, so the
// id's check and quoting run once, not per request.
let lastId: string | undefined;
let lastName: string | undefined;
let lastPrefix = '';

/** The sf-string name of a decision that gets usage headers: a finite `remaining` and an id an sf-string can carry. */
function usageName(decision: Decision): string | undefined {
  const remaining = decision.remaining;
  if (remaining === undefined || !Number.isFinite(remaining)) return undefined;
  const id = decision.featureId;
  if (id !== lastId) {
    lastName = sfString(id);
    lastPrefix = `${lastName};r=`;
    lastId = id;
  }
  return lastName;
}
