/** The upsell `onDenied` for Express: redirect browsers to the upgrade page. */
import { assertUpsellOptions, type UpsellOptions, upsellDecision } from '@tollgate/core';
import type { Request } from 'express';
import type { OnDenied } from './gates.js';
import { sendSpec } from './respond.js';

/** Options of {@link upsellRedirect}. */
export interface UpsellRedirectOptions extends UpsellOptions {
  /**
   * Where to come back to after upgrading; validated as a same-origin path.
   * @default the request's path and query (`req.originalUrl`)
   */
  returnTo?: (req: Request) => string | undefined;
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
  const returnTo = options.returnTo ?? ((req: Request) => req.originalUrl);
  return (decision, req, res) => {
    const answer = upsellDecision(decision, options, { accept: req.headers.accept, returnTo: returnTo(req) });
    if (answer.kind === 'redirect') {
      res.status(answer.status).setHeader('Location', answer.location);
      res.end();
    } else {
      sendSpec(res, answer.response);
    }
  };
}
