/**
 * Declaration merging: what the gates attach to `ctx.state`, typed for every middleware that
 * imports `@tollgate/koa`.
 */
import type { GateState } from '@tollgate/core';

declare module 'koa' {
  interface DefaultState {
    /** Decisions of the Tollgate gates that ran on this request (set by `@tollgate/koa`). */
    tollgate?: GateState;
  }
}
