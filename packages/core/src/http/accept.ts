/**
 * Content negotiation for denials: a browser navigating to a gated page gets a redirect, an
 * API client gets a problem document.
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
      if (key?.trim().toLowerCase() !== 'q' || value === undefined) continue;
      const parsed = Number(value.trim());
      // RFC 9110 §12.4.2: qvalues are 0..1; an unparseable one makes the range unusable.
      q = Number.isFinite(parsed) ? Math.min(1, Math.max(0, parsed)) : 0;
    }
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

/** The q of the most specific range matching `type/subtype` (RFC 9110 §12.5.1), 0 if none. */
function qualityOf(ranges: readonly MediaRange[], type: string, subtype: string): number {
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
  if (accept === undefined) return false;
  const ranges = parseAccept(typeof accept === 'string' ? accept : accept.join(','));
  const html = qualityOf(ranges, 'text', 'html');
  const json = Math.max(
    qualityOf(ranges, 'application', 'json'),
    qualityOf(ranges, 'application', 'problem+json'),
  );
  return html > 0 && html > json;
}
