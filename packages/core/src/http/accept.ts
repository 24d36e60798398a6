/**
 * `Accept` negotiation (RFC 9110 §12.5.1), shared by core's denials (a browser navigating to a
 * gated page gets a redirect, an API client a problem document) and the server's licence
 * format (XML or JSON), so the two cannot drift apart on how a header is read.
 */

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [mediaType = '', ...params] = part.split(';');
    const [type, subtype] = mediaType.trim().toLowerCase().split('/');
    if (!type || !subtype) continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() !== 'q') continue;
      const parsed = Number(value?.trim());
      // RFC 9110 §12.4.2: qvalues are 0..1; an unparseable (or missing) one makes the range
      // unusable rather than preferred.
      q = Number.isFinite(parsed) ? Math.min(1, Math.max(0, parsed)) : 0;
    }
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

/** The q of the most specific range matching `mediaType` (RFC 9110 §12.5.1), 0 if none. */
function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  const [type, subtype] = mediaType.toLowerCase().split('/');
  let best: { specificity: number; q: number } | undefined;
  for (const range of ranges) {
    let specificity: number;
    if (range.type === type && range.subtype === subtype) specificity = 2;
    else if (range.type === type && range.subtype === '*') specificity = 1;
    else if (range.type === '*' && range.subtype === '*') specificity = 0;
    else continue;
    if (best === undefined || specificity > best.specificity) best = { specificity, q: range.q };
  }
  return best?.q ?? 0;
}

/**
 * The candidate media type an `Accept` header ranks highest (RFC 9110 §12.5.1: the most
 * specific matching range gives a type its q-value), or `undefined` when the header is missing
 * or accepts none of them (every q is 0). Ties go to the earlier candidate, so list the default
 * first. Several headers (Node's `string[]`) are read as one comma-joined list.
 *
 * @example
 * preferredMediaType('application/xml;q=0.5, application/json', ['application/xml', 'application/json']);
 * // 'application/json'
 * preferredMediaType('*\/*', ['application/xml', 'application/json']); // 'application/xml' (tie)
 * preferredMediaType('image/png', ['application/json']); // undefined
 */
export function preferredMediaType<const T extends string>(
  accept: string | readonly string[] | undefined,
  candidates: readonly T[],
): T | undefined {
  if (accept === undefined) return undefined;
  const ranges = parseAccept(typeof accept === 'string' ? accept : accept.join(','));
  let best: T | undefined;
  let bestQ = 0;
  for (const candidate of candidates) {
    const q = qualityOf(ranges, candidate);
    if (q > bestQ) {
      best = candidate;
      bestQ = q;
    }
  }
  return best;
}

// JSON listed first: a tie goes to it, so only a strict preference counts as a browser.
const HTML_OR_JSON = ['application/json', 'application/problem+json', 'text/html'] as const;

/**
 * True when an `Accept` header ranks `text/html` above JSON (`application/json` and
 * `application/problem+json`): what a browser navigating to a page sends. A missing header,
 * `*\/*`, or a tie means an API client, so the answer is false.
 *
 * @example
 * prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*\/*;q=0.8'); // true
 * prefersHtml('application/json'); // false
 * prefersHtml(undefined); // false
 */
export function prefersHtml(accept: string | readonly string[] | undefined): boolean {
  return preferredMediaType(accept, HTML_OR_JSON) === 'text/html';
}
