/**
 * `createGates` for Koa 2 and 3: translates Koa's `(ctx, next)` into calls to core's gate
 * runtime and back. Every rule lives in `@tollgate/core`.
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
  responseSettlement,
  type Tollgate,
} from '@tollgate/core';
import type { Context, Middleware } from 'koa';
import { sendSpec } from './respond.js';
import './augment.js';

// Defined once: a closure over `ctx` would be allocated on every metered request.
const setHeader = (name: string, value: string, ctx: Context): void => {
  ctx.set(name, value);
};

/**
 * Answers a denied request in place of the default problem document; may be async.
 *
 * @example
 * const onDenied: OnDenied = (decision, ctx) => { ctx.status = 403; ctx.body = { error: decision.reason }; };
 */
export type OnDenied = (decision: Decision, ctx: Context) => unknown;

/**
 * Options of {@link createGates}: either `tollgate` (an instance from `createTollgate`) or
 * `provider` plus any `createTollgate` options, and the context → subject mapping.
 *
 * @example
 * const options: GatesOptions = { tollgate, subject: (ctx) => ctx.state.user && { externalUserId: ctx.state.user.id } };
 */
export type GatesOptions = GateRuntimeOptions<Context> & {
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
   * (optionally on a specific plan).
   *
   * @example
   * router.get('/reports', gates.requireFeature('reports'), (ctx) => { ctx.body = report(); });
   */
  requireFeature(featureId: string, planId?: string, options?: RequireFeatureOptions): Middleware;
  /**
   * Middleware that reserves `amount` of a metered feature before the downstream middleware
   * and charges it when the response finishes below 400 (or always, with `chargeOn:
   * 'always'`); releases it on a failed status, a thrown error or a client that disconnects.
   * Sets the `RateLimit` and `Tollgate-Remaining` headers. Several `meter`s compose.
   *
   * @example
   * router.post('/sms', gates.meter('sms', (ctx) => ctx.request.body.recipients.length), sendSms);
   */
  meter(featureId: string, amount: AmountSource<Context>, options?: MeterOptions): Middleware;
  /** The engine behind the gates (e.g. to `invalidate` a subject after an upgrade). */
  readonly tollgate: Tollgate;
  /** Closes the engine if the gates created it from `provider`; otherwise a no-op. */
  close(): Promise<void>;
}

/**
 * Creates `requireFeature` and `meter` middleware for Koa 2 and 3. Decisions are attached as
 * `ctx.state.tollgate`. Bad options throw a `ConfigurationError` here.
 *
 * @example
 * import Koa from 'koa';
 * import { createGates } from '@tollgate/koa';
 *
 * const gates = createGates({
 *   provider: licensarioProvider({ baseUrl, apiKey, apiSecret }),
 *   subject: (ctx) => (ctx.state.user ? { externalUserId: ctx.state.user.id } : undefined),
 * });
 * app.use(gates.meter('sms', 1));
 * app.use((ctx) => { ctx.body = { left: ctx.state.tollgate?.decisions.sms?.remaining }; });
 */
export function createGates(options: GatesOptions): Gates {
  if (options?.onDenied !== undefined && typeof options.onDenied !== 'function') {
    throw new ConfigurationError('createGates({ onDenied }): onDenied must be a function (decision, ctx).');
  }
  const runtime = createGateRuntime<Context>(options);
  const defaultOnDenied: OnDenied = (decision, ctx) => sendSpec(ctx, runtime.denial(decision));
  const gateOnDenied = options.onDenied ?? defaultOnDenied;

  const attach = (ctx: Context, decision: Decision): GateState => {
    const state = runtime.record(ctx.state.tollgate, decision);
    ctx.state.tollgate = state;
    return state;
  };

  const deny = async (onDenied: OnDenied, decision: Decision, ctx: Context): Promise<void> => {
    // Reservations taken by earlier gates on this route: the downstream will not run.
    void existingSettlement(ctx.res, ctx)?.settle({ kind: 'denied' });
    await onDenied(decision, ctx);
  };

  return {
    tollgate: runtime.tollgate,
    close: () => runtime.close(),

    requireFeature(featureId, planId, gateOptions) {
      assertGateArgs('requireFeature', featureId, planId);
      const onDenied = gateOptions?.onDenied ?? gateOnDenied;
      const conclude = (ctx: Context, next: () => Promise<unknown>, decision: Decision): Promise<unknown> => {
        attach(ctx, decision);
        return decision.allowed ? next() : deny(onDenied, decision, ctx);
      };
      // Not an async function: a cache hit goes straight to next() without a promise of its own.
      return function tollgateRequireFeature(ctx, next) {
        const checked = runtime.check(ctx, featureId, planId);
        return isPromiseLike(checked)
          ? Promise.resolve(checked).then((decision) => conclude(ctx, next, decision))
          : conclude(ctx, next, checked);
      };
    },

    meter(featureId, amount, gateOptions) {
      assertGateArgs('meter', featureId, gateOptions?.planId);
      assertAmountSource(featureId, amount);
      const onDenied = gateOptions?.onDenied ?? gateOnDenied;
      const chargeOn = gateOptions?.chargeOn ?? runtime.chargeOn;
      const planId = gateOptions?.planId;
      return async function tollgateMeter(ctx, next) {
        const metered = runtime.meter(ctx, featureId, amount, planId);
        const result = isPromiseLike(metered) ? await metered : metered;
        if (result.kind === 'invalid_amount') {
          void existingSettlement(ctx.res, ctx)?.settle({ kind: 'denied' });
          sendSpec(ctx, result.response);
          return;
        }
        const state = attach(ctx, result.decision);
        if (result.kind === 'denied') return deny(onDenied, result.decision, ctx);

        const settlement = responseSettlement(ctx.res, runtime.onSettlementError, ctx);
        settlement.add(result.reservation, chargeOn);
        forEachUsageHeader(state.decisions, setHeader, ctx);
        try {
          await next();
        } catch (error) {
          // Koa answers a thrown error after this frame unwinds; settle before that.
          void settlement.settle({ kind: 'errored' });
          throw error;
        }
      };
    },
  };
}
