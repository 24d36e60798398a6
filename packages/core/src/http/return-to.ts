/**
 * `return_to` validation for the upsell redirect: the value ends up in a `Location` a browser
 * follows after the upgrade, so anything that could leave the site is an open redirect
 * (CWE-601). Only a same-origin path survives.
 */

/** Longer values are refused outright (and would not fit in most URLs anyway). */
const MAX_LENGTH = 2048;
/** Layers of percent-encoding we peel off; deeper nesting is refused as suspicious. */
const MAX_DECODE_DEPTH = 4;
/** A sentinel origin: a result that does not resolve to it is not a same-origin path. */
const SENTINEL = 'http://return-to.invalid';

/**
 * One (possibly still encoded) layer is safe when it is an absolute path that browsers cannot
 * read as network-path reference: it starts with exactly one `/`, never `//` or `/\`
 * (browsers treat `\` as `/`), carries no backslash at all and no control characters
 * (which URL parsers strip, turning `/\t/evil` into `//evil`).
 */
function isSafeLayer(value: string): boolean {
  if (!value.startsWith('/')) return false;
  if (value.startsWith('//')) return false;
  if (value.includes('\\')) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) return false;
  return true;
}

/**
 * The value as a same-origin path (`/path?query#hash`, normalised), or `undefined` when it
 * is anything else: absolute URLs, `//host`, `/\host`, backslashes, schemes
 * (`javascript:`), control characters, and every percent-encoded (or double-encoded)
 * spelling of those (`/%2f%2fhost`, `%5c`, `/%252f%252fhost`), dot segments that collapse
 * into `//host`, and values over 2048 characters.
 *
 * @example
 * safeReturnTo('/reports?year=2025'); // '/reports?year=2025'
 * safeReturnTo('https://evil.example/'); // undefined
 * safeReturnTo('//evil.example'); // undefined
 * safeReturnTo('/%2F%2Fevil.example'); // undefined
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return undefined;
  if (!everyDecodingSafe(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, SENTINEL);
  } catch {
    return undefined;
  }
  if (url.origin !== SENTINEL) return undefined;
  // The parser resolves dot segments (`/.//evil` becomes `//evil`), so check its result too.
  const path = `${url.pathname}${url.search}${url.hash}`;
  return everyDecodingSafe(path) ? path : undefined;
}

/** Every decoding a browser, proxy or later redirect might apply must stay safe. */
function everyDecodingSafe(value: string): boolean {
  let layer = value;
  for (let depth = 0; ; depth++) {
    if (!isSafeLayer(layer)) return false;
    let decoded: string;
    try {
      decoded = decodeURIComponent(layer);
    } catch {
      return false; // Malformed escapes: not something we will put in a Location.
    }
    if (decoded === layer) return true;
    if (depth >= MAX_DECODE_DEPTH) return false;
    layer = decoded;
  }
}
