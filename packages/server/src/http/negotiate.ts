/**
 * The licence format a request asks for. Licences default to XML, as Licensario's existing
 * clients parse it; the `Accept` reading itself is core's (`preferredMediaType`).
 */
import { preferredMediaType } from '@tollgate/core';

// XML types first: a tie (`*/*`, `application/*`) keeps the XML default.
const LICENSE_TYPES = ['application/xml', 'text/xml', 'application/json'] as const;

/**
 * `'json'` when the `Accept` header prefers JSON over XML, else `'xml'` (also when absent).
 *
 * @example
 * preferredFormat('application/xml;q=0.5, application/json'); // 'json'
 * preferredFormat(undefined); // 'xml'
 */
export function preferredFormat(accept: string | undefined): 'json' | 'xml' {
  return preferredMediaType(accept, LICENSE_TYPES) === 'application/json' ? 'json' : 'xml';
}
