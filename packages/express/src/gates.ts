/**
 * `createGates` for Express 4 and 5: translates Express's `(req, res, next)` into calls to
 * core's gate runtime and back. Every rule lives in `@tollgate/core`.
 */
import {
  type AmountSource,
  assertAmountSource,
  assertGateArgs,
  type ChargeOn,
  ConfigurationError,
  createGateRuntime,
  type Decision,
  existingSettlement,
  forEachUsageHeader,
  type GateRuntimeOptions,
  type GateState,
  isPromiseLike,
  type MaybePromise,
  type MeterResult,
  responseSettlement,
  setResponseHeader,
  type Tollgate,
} from '@tollgate/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { recordRequestState } from './request-state.js';
import { sendSpec } from './respond.js';
import './augment.js';

/**
 * Answers a denied request in place of the default problem document. May be async; a throw
 * or rejection is passed to `next(err)`.
 *
 * @example
 * const onDenied: OnDenied = (decision, req, res) => res.status(403).render('upgrade', { decision });
 */
export type OnDenied = (decision: Decision, req: Request, res: Response, next: NextFunction) => unknown;

// Defined once: a closure over `res` would be allocated on every metered request.
const setUsageHeader = (name: string, value: string, res: Response): void => {
  setResponseHeader(res, name, value);
};

/**
 * Options of {@link createGates}: either `tollgate` (an instance from `createTollgate`) or
 * `provider` plus any `createTollgate` options, and the request → subject mapping.
 *
 * @example
 * const options: GatesOptions = { tollgate, subject: (req) => req.user && { externalUserId: req.user.id } };
 */
export type GatesOptions = GateRuntimeOptions<Request> & {
  /** Replaces the default problem+json denial for every gate of this instance. */
  onDenied?: OnDenied;
};

/** Options of {@link Gates.requireFeature}. */
export interface RequireFeatureOptions {
  /** Replaces `createGates({ onDenied })` for this gate. */
  onDenied?: OnDenied;
}

/** Options of {@link Gates.meter}. */
export interface MeterOptions {
  /** Charge against licences of this plan only. */
  planId?: string;
  /** Overrides `createGates({ chargeOn })`. @default 'success' */
  chargeOn?: ChargeOn;
  /** Replaces `createGates({ onDenied })` for this gate. */
  onDenied?: OnDenied;
}

/** The gates of one `createGates` call. */
export interface Gates {
  /**
   * Middleware that lets the request through only if the subject is licensed for the feature
   * (optionally on a specific plan). A cached decision reaches `next()` synchronously.
   *
   * @example
   * app.get('/reports', gates.requireFeature('reports'), (req, res) => res.json(report()));
   */
  requireFeature(featureId: string, planId?: string, options?: RequireFeatureOptions): RequestHandler;
  /**
   * Middleware that reserves `amount` of a metered feature before the handler and charges it
   * when the response finishes below 400 (or always, with `chargeOn: 'always'`); releases it
   * on a failed status, an error or a client that disconnects. Sets the `RateLimit` and
   * `Tollgate-Remaining` headers. Several `meter`s on one route compose.
   *
   * @example
   * app.post('/sms', gates.meter('sms', (req) => req.body.recipients.length), sendSms);
   */
  meter(featureId: string, amount: AmountSource<Request>, options?: MeterOptions): RequestHandler;
  /** The engine behind the gates (e.g. to `invalidate` a subject after an upgrade). */
  readonly tollgate: Tollgate;
  /** Closes the engine if the gates created it from `provider`; otherwise a no-op. */
  close(): Promise<void>;
}

/**
 * Creates `requireFeature` and `meter` middleware for Express 4 and 5. Decisions are attached
 * as `req.tollgate` and `res.locals.tollgate`. Bad options throw a `ConfigurationError` here.
 *
 * @example
 * import express from 'express';
 * import { createGates } from '@tollgate/express';
 *
 * const gates = createGates({
 *   provider: licensarioProvider({ baseUrl, apiKey, apiSecret }),
 *   subject: (req) => (req.user ? { externalUserId: req.user.id } : undefined),
 * });
 * app.get('/reports', gates.requireFeature('reports'), (req, res) => res.json({ ok: true }));
 * app.post('/sms', gates.meter('sms', 1), (req, res) => {
 *   res.json({ left: req.tollgate?.decisions.sms?.remaining });
 * });
 */
export function createGates(options: GatesOptions): Gates {
  if (options?.onDenied !== undefined && typeof options.onDenied !== 'function') {
    throw new ConfigurationError(
      'createGates({ onDenied }): onDenied must be a function (decision, req, res, next).',
    );
  }
  const runtime = createGateRuntime<Request>(options);
  const defaultOnDenied: OnDenied = (decision, _req, res) => sendSpec(res, runtime.denial(decision));
  const gateOnDenied = options.onDenied ?? defaultOnDenied;

  const attach = (req: Request, res: Response, decision: Decision, locals = res.locals): GateState =>
    recordRequestState(req, res, decision, runtime.record, locals);

  const deny = (
    onDenied: OnDenied,
    decision: Decision,
    req: Request,
    res: Response,
    next: NextFunction,
  ): void => {
    // Reservations taken by earlier gates on this route: the handler will not run.
    void existingSettlement(res, res.locals)?.settle({ kind: 'denied' });
    let answered: unknown;
    try {
      answered = onDenied(decision, req, res, next);
    } catch (error) {
      next(error);
      return;
    }
    if (isPromiseLike(answered)) Promise.resolve(answered).catch(next);
  };

  /**
   * One gate step: `compute` (made once per gate) for this request, then `conclude` at once on
   * a plain value — the hot path, with no closure or promise per request — or once the promise
   * settles. A throw or rejection goes to `next(err)`.
   */
  const step = <T>(
    compute: (req: Request) => MaybePromise<T>,
    conclude: (req: Request, res: Response, next: NextFunction, value: T) => void,
    req: Request,
    res: Response,
    next: NextFunction,
  ): void => {
    let value: MaybePromise<T>;
    try {
      value = compute(req);
    } catch (error) {
      next(error);
      return;
    }
    if (isPromiseLike(value)) Promise.resolve(value).then((v) => conclude(req, res, next, v), next);
    else conclude(req, res, next, value);
  };

  return {
    tollgate: runtime.tollgate,
    close: () => runtime.close(),

    requireFeature(featureId, planId, gateOptions) {
      assertGateArgs('requireFeature', featureId, planId);
      const onDenied = gateOptions?.onDenied ?? gateOnDenied;
      const conclude = (req: Request, res: Response, next: NextFunction, decision: Decision) => {
        attach(req, res, decision);
        if (decision.allowed) next();
        else deny(onDenied, decision, req, res, next);
      };
      const check = (req: Request) => runtime.check(req, featureId, planId);
      return function tollgateRequireFeature(req, res, next) {
        step(check, conclude, req, res, next);
      };
    },

    meter(featureId, amount, gateOptions) {
      assertGateArgs('meter', featureId, gateOptions?.planId);
      assertAmountSource(featureId, amount);
      const onDenied = gateOptions?.onDenied ?? gateOnDenied;
      const chargeOn = gateOptions?.chargeOn ?? runtime.chargeOn;
      const planId = gateOptions?.planId;
      const conclude = (req: Request, res: Response, next: NextFunction, result: MeterResult) => {
        if (result.kind === 'invalid_amount') {
          void existingSettlement(res, res.locals)?.settle({ kind: 'denied' });
          sendSpec(res, result.response);
          return;
        }
        // Read once: every property read on `res` is a full lookup (see request-state.ts).
        const locals = res.locals;
        const state = attach(req, res, result.decision, locals);
        if (result.kind === 'denied') {
          deny(onDenied, result.decision, req, res, next);
          return;
        }
        responseSettlement(res, runtime.onSettlementError, locals).add(result.reservation, chargeOn);
        forEachUsageHeader(state.decisions, setUsageHeader, res);
        next();
      };
      const reserve = (req: Request) => runtime.meter(req, featureId, amount, planId);
      return function tollgateMeter(req, res, next) {
        step(reserve, conclude, req, res, next);
      };
    },
  };
}
