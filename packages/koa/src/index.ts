/**
 * `@tollgate/koa`: Koa 2/3 middleware gating routes on entitlements.
 */
import './augment.js';

export type { Decision, GateState } from '@tollgate/core';
export type { Gates, GatesOptions, MeterOptions, OnDenied, RequireFeatureOptions } from './gates.js';
export { createGates } from './gates.js';
export type { UpsellRedirectOptions } from './upsell.js';
export { upsellRedirect } from './upsell.js';
