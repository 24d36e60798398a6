/**
 * The HTTP rules both framework adapters share (packages/core/src/http/README.md).
 */

export { noSubjectDecision } from '../engine/decisions.js';
export { prefersHtml } from './accept.js';
export type { AmountSource } from './amount.js';
export { assertAmountSource, isValidAmount, resolveAmount } from './amount.js';
export type { GateOptionsBase, GateRuntime, GateRuntimeOptions, MeterResult } from './gate-runtime.js';
export { assertGateArgs, createGateRuntime } from './gate-runtime.js';
export type { RequestOutcome, SettlementErrorHandler } from './lifecycle.js';
export { existingSettlement, RequestSettlement, responseSettlement, settlementFor } from './lifecycle.js';
export type { MaybePromise } from './maybe-promise.js';
export { chain, isPromiseLike } from './maybe-promise.js';
export type { DenialResponseOptions } from './problem.js';
export { denialResponse, invalidAmountResponse, PROBLEM_CONTENT_TYPE, PROBLEM_TYPES } from './problem.js';
export { setResponseHeader } from './response-access.js';
export { safeReturnTo } from './return-to.js';
export type { ChargeOn, GateState, HttpResponseSpec, ProblemDocument } from './types.js';
export type { UpsellAnswer, UpsellLocationInput, UpsellOptions } from './upsell.js';
export { assertUpsellOptions, upsellDecision, upsellLocation } from './upsell.js';
export { forEachUsageHeader, RATELIMIT_HEADER, REMAINING_HEADER, usageHeaders } from './usage-headers.js';
