/** The upsell `onDenied` for Koa: redirect browsers to the upgrade page. */
import { assertUpsellOptions, type UpsellOptions, upsellDecision } from '@tollgate/core';
import type { Context } from 'koa';
import type { OnDenied } from './gates.js';
import { sendSpec } from './respond.js';

/** Options of {@link upsellRedirect}. */
export interface UpsellRedirectOptions extends UpsellOptions {
  /**
   * Where to come back to after upgrading; validated as a same-origin path.
   * @default the request's path and query (`ctx.originalUrl`)
   */
  returnTo?: (ctx: Context) => string | undefined;
}

/**
 * An `onDenied` that sends browsers (Accept prefers `text/html`) to the upgrade page with a
 * 303 carrying `feature`, `plan` and `return_to`, and answers API clients with the problem
 * document plus `upgradeUrl`. `return_to` is dropped unless it is a same-origin path.
 *
 * @example
 * const gates = createGates({ tollgate, subject, onDenied: upsellRedirect({ to: '/pricing' }) });
 */
export function upsellRedirect(options: UpsellRedirectOptions): OnDenied {
  assertUpsellOptions(options);
  const returnTo = options.returnTo ?? ((ctx: Context) => ctx.originalUrl);
  return (decision, ctx) => {
    const answer = upsellDecision(decision, options, {
      accept: ctx.get('Accept') || undefined,
      returnTo: returnTo(ctx),
    });
    if (answer.kind === 'redirect') {
      ctx.status = answer.status;
      ctx.set('Location', answer.location);
      ctx.body = null;
      ctx.status = answer.status; // Setting the body resets an implicit status; keep the 303.
    } else {
      sendSpec(ctx, answer.response);
    }
  };
}
