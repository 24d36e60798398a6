/**
 * `req.tollgate` without adding a property to every request.
 *
 * Express gives every `req` its app's request object as prototype, and V8 adds a property to
 * an object whose prototype was swapped on a slow path: ~1.5–2 µs per request, measured. So
 * before the first gated request of an app, a `tollgate` accessor is defined on Express's
 * base request prototype (the object under every `app.request`, directly above Node's
 * `IncomingMessage.prototype`). It keeps the state in `res.locals.tollgate`, the object
 * Express already makes for every request (a dictionary, cheap to add to): `req.tollgate` and
 * `res.locals.tollgate` are one slot, and nothing is added to the request. (A `WeakMap` entry,
 * its first backing, measured ~1.4 µs per request in the app's profile.) A request without
 * `res.locals` (not from an Express app) falls back to a `WeakMap`.
 */
import { IncomingMessage } from 'node:http';
import type { GateState } from '@tollgate/core';
import type { Request } from 'express';

const states = new WeakMap<object, GateState>();
/** Direct prototypes of requests seen so far (one per Express app). */
const prepared = new WeakSet<object>();

type Locals = Record<string, unknown>;
const localsOf = (req: object): Locals | undefined => (req as Request).res?.locals;

const accessor: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: object) {
    const locals = localsOf(this);
    return locals === undefined ? states.get(this) : locals.tollgate;
  },
  set(this: object, state: GateState | undefined) {
    const locals = localsOf(this);
    if (locals === undefined) {
      if (state === undefined) states.delete(this);
      else states.set(this, state);
    } else if (state === undefined) delete locals.tollgate;
    else locals.tollgate = state;
  },
};

/** Express's base request prototype under `proto`, or undefined for a request Express did not make. */
function baseRequestPrototype(proto: object | null): object | undefined {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.getPrototypeOf(p) === IncomingMessage.prototype) return p;
  }
  return undefined;
}

/**
 * Makes `req.tollgate` cheap to set for requests of this request's app (once per app).
 *
 * @example
 * prepareRequestState(req);
 * req.tollgate = state;
 */
export function prepareRequestState(req: Request): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null || prepared.has(proto)) return;
  prepared.add(proto);
  const base = baseRequestPrototype(proto);
  // Someone else defined it (another copy of this package, or the app): leave theirs alone;
  // a sealed prototype keeps the plain (slower) property. Both still work the same.
  if (base === undefined || Object.hasOwn(base, 'tollgate') || !Object.isExtensible(base)) return;
  Object.defineProperty(base, 'tollgate', accessor);
}
