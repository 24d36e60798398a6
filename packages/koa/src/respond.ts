/** Writes a framework-free response spec from core onto a Koa context. */
import type { HttpResponseSpec } from '@tollgate/core';
import type { Context } from 'koa';

/**
 * Sends `spec`. Headers go first so Koa keeps core's `application/problem+json` instead of
 * inferring a type from the string body.
 */
export function sendSpec(ctx: Context, spec: HttpResponseSpec): void {
  ctx.status = spec.status;
  ctx.set(spec.headers);
  ctx.body = JSON.stringify(spec.body);
}
