/**
 * `Accept` negotiation (RFC 9110 §12.5.1): the most specific matching range gives a type its
 * q-value. Licences default to XML, as Licensario's existing clients parse it.
 */

interface Range {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): Range[] {
  const ranges: Range[] = [];
  for (const part of header.split(',')) {
    const [media, ...parameters] = part.split(';');
    const [type, subtype] = (media ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) continue;
    let q = 1;
    for (const parameter of parameters) {
      const [key, value] = parameter.split('=').map((s) => s.trim());
      if (key?.toLowerCase() === 'q') {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      }
    }
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

function quality(ranges: readonly Range[], mediaType: string): number {
  const [type, subtype] = mediaType.split('/');
  let best: { specificity: number; q: number } | undefined;
  for (const r of ranges) {
    let specificity: number;
    if (r.type === type && r.subtype === subtype) specificity = 2;
    else if (r.type === type && r.subtype === '*') specificity = 1;
    else if (r.type === '*' && r.subtype === '*') specificity = 0;
    else continue;
    if (best === undefined || specificity > best.specificity) best = { specificity, q: r.q };
  }
  return best?.q ?? 0;
}

/**
 * `'json'` when the `Accept` header prefers JSON over XML, else `'xml'` (also when absent).
 *
 * @example
 * preferredFormat('application/xml;q=0.5, application/json'); // 'json'
 * preferredFormat(undefined); // 'xml'
 */
export function preferredFormat(accept: string | undefined): 'json' | 'xml' {
  if (accept === undefined || accept.trim() === '') return 'xml';
  const ranges = parseAccept(accept);
  const json = quality(ranges, 'application/json');
  const xml = Math.max(quality(ranges, 'application/xml'), quality(ranges, 'text/xml'));
  return json > 0 && json > xml ? 'json' : 'xml';
}
