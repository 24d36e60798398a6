/**
 * Declaration merging: what the gates attach to Express requests, typed for every handler
 * that imports `@tollgate/express`.
 */
import type { GateState } from '@tollgate/core';

declare global {
  namespace Express {
    interface Request {
      /**
       * Decisions of the Tollgate gates that ran on this request (set by `@tollgate/express`).
       * Clear it with `req.tollgate = undefined`: it is an accessor, so `delete` leaves it.
       */
      tollgate?: GateState | undefined;
    }
    interface Locals {
      /** The same slot as `req.tollgate`, for templates rendered with `res.locals`. */
      tollgate?: GateState | undefined;
    }
  }
}
