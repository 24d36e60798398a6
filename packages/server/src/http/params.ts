/**
 * Request parameters as Licensario clients send them (README, "Parameters"): query string and
 * body (form or JSON) merged with the body winning, arrays as repeated keys, comma lists,
 * `key[]` or JSON arrays, and a bare key with no `=` meaning "not given".
 */
import { ServiceError } from '../service-error.js';

/** Parameter name → the raw values given for it (never empty). */
export type RawParams = Map<string, string[]>;

/**
 * Parse `a=1&b=2&b=3&c[]=4&bare` form encoding. Bare keys are dropped; `key[]` is `key`.
 *
 * @example
 * parseFormEncoded('featureIds=a&featureIds=b&x'); // Map { featureIds → ['a', 'b'] }
 */
export function parseFormEncoded(text: string): RawParams {
  const params: RawParams = new Map();
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    // `?featureIds` (no `=`): Licensario's clients send it for an empty list.
    if (eq === -1) continue;
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, ' '));
      value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      throw new ServiceError(400, 'invalid_request', 'Malformed percent-encoding in the parameters.');
    }
    if (name.endsWith('[]')) name = name.slice(0, -2);
    if (name === '') continue;
    const values = params.get(name);
    if (values === undefined) params.set(name, [value]);
    else values.push(value);
  }
  return params;
}

function scalar(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new ServiceError(
    400,
    'invalid_request',
    `Parameter "${name}" must be a string, a number or a boolean.`,
  );
}

/**
 * Parameters of a JSON object body. `null` means "not given"; arrays give several values.
 *
 * @example
 * parseJsonParams({ featureIds: ['a', 'b'], amount: 2 }); // Map { featureIds → ['a','b'], amount → ['2'] }
 */
export function parseJsonParams(body: unknown): RawParams {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ServiceError(400, 'invalid_request', 'A JSON body must be an object of parameters.');
  }
  const params: RawParams = new Map();
  for (const [rawName, value] of Object.entries(body)) {
    const name = rawName.endsWith('[]') ? rawName.slice(0, -2) : rawName;
    if (value === null || value === undefined) continue;
    const values = Array.isArray(value)
      ? value.filter((v) => v !== null).map((v) => scalar(name, v))
      : [scalar(name, value)];
    params.set(name, values);
  }
  return params;
}

/**
 * Read access to merged parameters.
 *
 * @example
 * const p = new Params(parseFormEncoded('amount=2'));
 * p.string('amount'); // '2'
 */
export class Params {
  readonly raw: RawParams;

  constructor(...sources: RawParams[]) {
    this.raw = new Map();
    // Later sources win per key: query first, body last.
    for (const source of sources) for (const [k, v] of source) this.raw.set(k, v);
  }

  /** The first value, or `undefined` when not given. */
  string(name: string): string | undefined {
    return this.raw.get(name)?.[0];
  }

  /** A required value; `400 invalid_request` naming the parameter when missing or empty. */
  required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') {
      throw new ServiceError(400, 'invalid_request', `Parameter "${name}" is required.`);
    }
    return value;
  }

  /** Values split on commas, trimmed, empties dropped; `undefined` when not given at all. */
  list(name: string): string[] | undefined {
    const values = this.raw.get(name);
    if (values === undefined) return undefined;
    return values
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
  }

  /** `true`/`1`/`yes` → true, `false`/`0`/`no`/empty → false, absent → `undefined`. */
  boolean(name: string): boolean | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const v = value.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') return true;
    if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
    throw new ServiceError(400, 'invalid_request', `Parameter "${name}" must be true or false.`);
  }

  /** A stable serialisation, for idempotency fingerprints. */
  canonical(): string {
    return JSON.stringify([...this.raw.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
