/**
 * Framework-free shapes the HTTP adapters (`@tollgate/express`, `@tollgate/koa`) share.
 */
import type { Decision } from '../engine/types.js';

/**
 * A response described without a framework: the adapters copy `status`, `headers` and
 * `body` (serialised as JSON) onto their own response object.
 *
 * @example
 * const { status, headers, body } = denialResponse(decision);
 * res.status(status).set(headers).send(JSON.stringify(body));
 */
export interface HttpResponseSpec {
  status: number;
  /** Header names are in their canonical case; values are ready to send. */
  headers: Record<string, string>;
  body: ProblemDocument;
}

/**
 * An RFC 9457 problem document with Tollgate's extension members.
 *
 * @example
 * const doc: ProblemDocument = {
 *   type: 'https://tollgate.dev/problems/exhausted', title: 'Allocation exhausted', status: 402,
 *   detail: 'The allocation of "sms" is used up.', featureId: 'sms', reason: 'exhausted', remaining: 0,
 * };
 */
export interface ProblemDocument {
  /** A URI naming the kind of problem; documented in packages/core/src/http/README.md. */
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Extension: the feature that was checked. */
  featureId?: string;
  /** Extension: the plan asked for or the plan the decision concerns. */
  planId?: string;
  /** Extension: the decision's reason (`not_licensed`, `expired`, …, or `invalid_amount`). */
  reason: string;
  /** Extension: what is left of a metered feature's allocation, when known. */
  remaining?: number;
  /** Extension: where the user can buy or upgrade, when known. */
  upgradeUrl?: string;
}

/**
 * What the gates attach to a request (`req.tollgate`, `res.locals.tollgate`,
 * `ctx.state.tollgate`): the last decision and every decision by feature id, so a handler
 * can read `remaining`.
 *
 * @example
 * app.post('/sms', gates.meter('sms', 1), (req, res) => {
 *   res.json({ left: req.tollgate?.decisions.sms?.remaining });
 * });
 */
export interface GateState {
  /** The decision of the last gate that ran on this request. */
  decision: Decision;
  /** Every gate's decision on this request, by feature id. */
  decisions: Record<string, Decision>;
}

/** When a metered request is charged: only when it succeeds (status < 400), or always. */
export type ChargeOn = 'success' | 'always';
