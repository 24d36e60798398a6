/**
 * Everything a `createGates` does that does not depend on the framework: options, the subject,
 * the cached-first check and reserve, amounts, the attached state and the default denial.
 * `@tollgate/express` and `@tollgate/koa` are thin translations around this.
 */
import { z } from 'zod';
import { usageOf } from '../engine/amount.js';
import { createTollgate } from '../engine/create-tollgate.js';
import { noSubjectDecision } from '../engine/decisions.js';
import { FeatureReservation, settleReservation } from '../engine/reservation.js';
import { type ReserveOne, reserveOneCached } from '../engine/reserve-one.js';
import type { Decision, Logger, Reservation, Tollgate, TollgateOptions } from '../engine/types.js';
import { ConfigurationError, hasErrorCode, isTollgateError } from '../errors.js';
import type { Subject } from '../types.js';
import { type AmountSource, resolveAmount } from './amount.js';
import type { SettlementErrorHandler } from './lifecycle.js';
import { isPromiseLike, type MaybePromise } from './maybe-promise.js';
import { denialResponse, invalidAmountResponse } from './problem.js';
import type { ChargeOn, GateState, HttpResponseSpec } from './types.js';

/** Options every adapter's `createGates` accepts (the adapter adds its own `onDenied`). */
export type GateRuntimeOptions<Req> = (
  | { /** An instance you created (and will close) yourself. */ tollgate: Tollgate; provider?: never }
  | (TollgateOptions & { tollgate?: never })
) & {
  /**
   * Who is asking: a `Subject`, or `undefined` when the request is anonymous (→ 401
   * `no_subject`). May return a promise.
   */
  subject: (req: Req) => MaybePromise<Subject | undefined>;
  /**
   * When `meter` charges: `success` = responses below 400, `always` = every request that
   * reached the handler. A disconnected client is never charged.
   * @default 'success'
   */
  chargeOn?: ChargeOn;
  /** Added to denials as `upgradeUrl`: a URL, or a function of the decision. */
  upgradeUrl?: string | ((decision: Decision) => string | undefined);
  /** `Retry-After` seconds on 503 `unavailable`. @default 5 */
  retryAfterSeconds?: number;
  /** `WWW-Authenticate` sent with 401 `no_subject` (e.g. `Bearer realm="app"`). */
  wwwAuthenticate?: string;
  /** Receives failed commits/releases (they never reach the request). */
  logger?: Logger;
};

/** Per-gate options shared by `requireFeature` and `meter`. */
export interface GateOptionsBase {
  /** Overrides `createGates({ chargeOn })` for this `meter`. */
  chargeOn?: ChargeOn;
}

/** The result of a `meter` gate before the handler runs. */
export type MeterResult =
  | { kind: 'allowed'; decision: Decision; reservation: Reservation }
  | { kind: 'denied'; decision: Decision }
  | { kind: 'invalid_amount'; response: HttpResponseSpec };

/**
 * The framework-free half of a gates instance.
 *
 * @example
 * const runtime = createGateRuntime<IncomingMessage>({ tollgate, subject: (req) => subjectOf(req) });
 * const decision = await runtime.check(req, 'reports');
 */
export interface GateRuntime<Req> {
  /** The engine the gates use. */
  readonly tollgate: Tollgate;
  readonly chargeOn: ChargeOn;
  /** The subject's decision for the feature: synchronous on a cache hit. */
  check(req: Req, featureId: string, planId?: string): MaybePromise<Decision>;
  /** Resolve the amount and reserve it: synchronous when both are. */
  meter(req: Req, featureId: string, amount: AmountSource<Req>, planId?: string): MaybePromise<MeterResult>;
  /** The default response for a denied decision. */
  denial(decision: Decision): HttpResponseSpec;
  /** The upgrade URL for a decision, if configured. */
  upgradeUrlFor(decision: Decision): string | undefined;
  /** The request's state after a gate decided. */
  record(previous: GateState | undefined, decision: Decision): GateState;
  /** Where failed commits/releases go. */
  readonly onSettlementError: SettlementErrorHandler;
  /** Closes the engine if `createGates` created it (from `provider`); no-op otherwise. */
  close(): Promise<void>;
}

const isFunction = (value: unknown): boolean => typeof value === 'function';

const optionsSchema = z.looseObject({
  tollgate: z
    .custom<Tollgate>((v) => typeof v === 'object' && v !== null && isFunction((v as Tollgate).check), {
      message: 'tollgate must be an instance returned by createTollgate()',
    })
    .optional(),
  provider: z
    .custom((v) => typeof v === 'object' && v !== null, {
      message: 'provider must be an EntitlementProvider',
    })
    .optional(),
  subject: z.custom(isFunction, { message: 'subject must be a function (req) => Subject | undefined' }),
  chargeOn: z.enum(['success', 'always']).optional(),
  upgradeUrl: z
    .union([z.string().min(1), z.custom(isFunction)], {
      message: 'upgradeUrl must be a URL string or a function',
    })
    .optional(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
  wwwAuthenticate: z
    .string()
    .min(1)
    .regex(/^[\x20-\x7e]+$/, 'wwwAuthenticate must be printable ASCII')
    .optional(),
});

/**
 * Checks gate arguments when a gate is created (a typo must fail at startup, not per request).
 *
 * @example
 * assertGateArgs('requireFeature', 'reports', 'pro');
 */
export function assertGateArgs(gate: string, featureId: unknown, planId: unknown): void {
  if (typeof featureId !== 'string' || featureId.length === 0) {
    throw new ConfigurationError(
      `${gate}(featureId): featureId must be a non-empty string; got ${String(featureId)}.`,
    );
  }
  if (planId !== undefined && (typeof planId !== 'string' || planId.length === 0)) {
    throw new ConfigurationError(
      `${gate}("${featureId}", planId): planId must be a non-empty string or omitted.`,
    );
  }
}

/**
 * Validates the options and builds the runtime. Throws a `ConfigurationError` naming the bad
 * option. With `provider` (and any `createTollgate` options) it creates the engine and
 * `close()` closes it; with `tollgate` the instance stays yours.
 *
 * @example
 * const runtime = createGateRuntime<Request>({ provider, subject: (req) => req.user && { externalUserId: req.user.id } });
 */
export function createGateRuntime<Req>(options: GateRuntimeOptions<Req>): GateRuntime<Req> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ConfigurationError(
      `createGates(): invalid option ${first?.path.join('.') || '(options)'}: ${first?.message ?? 'see issues'}.`,
      { issues: parsed.error.issues, cause: parsed.error },
    );
  }
  if ((options.tollgate === undefined) === (options.provider === undefined)) {
    throw new ConfigurationError(
      'createGates(): pass exactly one of `tollgate` (an instance from createTollgate()) or `provider` (and createTollgate options).',
    );
  }

  const ownsTollgate = options.tollgate === undefined;
  const tollgate: Tollgate = options.tollgate ?? createTollgate(engineOptions(options));
  const chargeOn = options.chargeOn ?? 'success';
  const { subject: subjectOf, upgradeUrl, retryAfterSeconds, wwwAuthenticate, logger } = options;

  // Our engine reserves one feature without building and parsing a usage record.
  const reserveOne = (tollgate as Partial<ReserveOne>)[reserveOneCached];

  const upgradeUrlFor = (decision: Decision): string | undefined =>
    typeof upgradeUrl === 'function' ? upgradeUrl(decision) : upgradeUrl;

  const checkFor = (
    subject: Subject | undefined,
    featureId: string,
    planId?: string,
  ): MaybePromise<Decision> => {
    if (subject === undefined) return noSubjectDecision(featureId, planId);
    return tollgate.checkCached(subject, featureId, planId) ?? tollgate.check(subject, featureId, planId);
  };
  // No closure on the hot path (a synchronous subject and a cached decision): this runs per request.
  const check = (req: Req, featureId: string, planId?: string): MaybePromise<Decision> => {
    const subject = subjectOf(req);
    return isPromiseLike(subject)
      ? Promise.resolve(subject).then((s) => checkFor(s, featureId, planId))
      : checkFor(subject, featureId, planId);
  };

  const meter = (
    req: Req,
    featureId: string,
    amountSource: AmountSource<Req>,
    planId?: string,
  ): MaybePromise<MeterResult> => {
    try {
      const subject = subjectOf(req);
      const result = isPromiseLike(subject)
        ? Promise.resolve(subject).then((s) => meterFor(req, s, featureId, amountSource, planId))
        : meterFor(req, subject, featureId, amountSource, planId);
      return isPromiseLike(result)
        ? Promise.resolve(result).catch((error: unknown) => invalidAmount(error, featureId))
        : result;
    } catch (error) {
      return invalidAmount(error, featureId);
    }
  };

  /** The rest of `meter` once the subject is known; no closure while everything is synchronous. */
  const meterFor = (
    req: Req,
    subject: Subject | undefined,
    featureId: string,
    amountSource: AmountSource<Req>,
    planId: string | undefined,
  ): MaybePromise<MeterResult> => {
    if (subject === undefined) return { kind: 'denied', decision: noSubjectDecision(featureId, planId) };
    const amount = resolveAmount(amountSource, req, featureId);
    if (isPromiseLike(amount)) {
      return Promise.resolve(amount).then((resolved) => reserveFor(subject, featureId, resolved, planId));
    }
    return reserveFor(subject, featureId, amount, planId);
  };

  const reserveFor = (
    subject: Subject,
    featureId: string,
    amount: number,
    planId: string | undefined,
  ): MaybePromise<MeterResult> => {
    const cached =
      reserveOne === undefined
        ? tollgate.reserveCached(
            subject,
            usageOf(featureId, amount),
            planId === undefined ? NO_OPTIONS : { planId },
          )
        : reserveOne.call(tollgate, subject, featureId, amount, planId);
    if (cached !== undefined) return toMeterResult(cached, featureId, onSettlementError);
    return tollgate
      .reserve(subject, usageOf(featureId, amount), planId === undefined ? NO_OPTIONS : { planId })
      .then((r) => toMeterResult(r, featureId, onSettlementError));
  };

  const onSettlementError: SettlementErrorHandler = (error, action) => {
    logger?.error(
      { err: error, code: isTollgateError(error) ? error.code : undefined, action },
      `tollgate: ${action} of a metered request failed`,
    );
  };

  return {
    tollgate,
    chargeOn,
    check,
    meter,
    denial: (decision) =>
      denialResponse(decision, { upgradeUrl: upgradeUrlFor(decision), retryAfterSeconds, wwwAuthenticate }),
    upgradeUrlFor,
    record: (previous, decision) => {
      // Copied then assigned rather than spread with a computed key: this runs on every gated
      // request, and the spread form measured ~5× slower.
      const decisions: Record<string, Decision> =
        previous === undefined ? {} : Object.assign({}, previous.decisions);
      decisions[decision.featureId] = decision;
      return { decision, decisions };
    },
    onSettlementError,
    close: () => (ownsTollgate ? tollgate.close() : Promise.resolve()),
  };
}

const NO_OPTIONS: { planId?: string } = Object.freeze({});

/** A bad amount becomes a 400 `invalid_amount` answer; anything else propagates. */
function invalidAmount(error: unknown, featureId: string): MeterResult {
  if (hasErrorCode(error, 'TOLLGATE_INVALID_AMOUNT')) {
    return { kind: 'invalid_amount', response: invalidAmountResponse(featureId) };
  }
  throw error;
}

/** The reservation's decision for the metered feature; a denied reservation is given back. */
function toMeterResult(
  reservation: Reservation,
  featureId: string,
  onSettlementError: SettlementErrorHandler,
): MeterResult {
  // Our engine's one-feature reservation has the feature's decision at hand (its usage
  // decision is built only if read); any other is searched.
  const one = reservation instanceof FeatureReservation;
  const decision = one ? reservation.feature : featureDecision(reservation, featureId);
  if (!(one ? decision.allowed : reservation.decision.allowed)) {
    // Nothing should be held for a denial, but release is idempotent and makes sure.
    settleReservation(reservation, 'release').catch((error: unknown) => onSettlementError(error, 'release'));
    // When another feature of the usage was denied, its decision speaks for the request.
    return { kind: 'denied', decision: decision.allowed ? reservation.decision : decision };
  }
  return { kind: 'allowed', decision, reservation };
}

/** The decision for `featureId` among a reservation's, else the reservation's own. */
function featureDecision(reservation: Reservation, featureId: string): Decision {
  const usageDecision = reservation.decision;
  // A loop, not `find` with a closure: this runs per metered request.
  for (const candidate of usageDecision.decisions) {
    if (candidate.featureId === featureId) return candidate;
  }
  return usageDecision;
}

/** The createTollgate options inside createGates options (gate-only keys removed). */
function engineOptions(options: object): TollgateOptions {
  const { subject, chargeOn, upgradeUrl, retryAfterSeconds, wwwAuthenticate, onDenied, tollgate, ...rest } =
    options as Record<string, unknown>;
  return rest as unknown as TollgateOptions;
}
