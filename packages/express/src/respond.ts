/** Writes a framework-free response spec from core onto an Express response. */
import type { HttpResponseSpec } from '@tollgate/core';
import type { Response } from 'express';

/**
 * Sends `spec` (status, headers, JSON body). Uses `res.end` rather than `res.json` so the
 * `application/problem+json` content type from core is kept as is.
 */
export function sendSpec(res: Response, spec: HttpResponseSpec): void {
  res.status(spec.status);
  for (const [name, value] of Object.entries(spec.headers)) res.setHeader(name, value);
  res.end(JSON.stringify(spec.body));
}
