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
 *
 * The gates themselves read and write `res.locals.tollgate` directly once the accessor is in
 * place: for the same reason, each request ends up with a hidden class of its own (two
 * responses in flight at once compared: never the same map once Express has added
 * `res.locals` after the swap), so each property access on `req` misses V8's inline caches
 * and takes a full lookup, and going through the accessor cost four of them per gate
 * (`req.tollgate`, then `req.res` inside it, for the read and again for the write).
 */
import { IncomingMessage } from 'node:http';
import type { Decision, GateState } from '@tollgate/core';
import type { Request, Response } from 'express';

const states = new WeakMap<object, GateState>();
/**
 * Direct prototypes of requests seen so far (one per Express app): whether `req.tollgate` is
 * our accessor on them.
 */
const prepared = new WeakMap<object, boolean>();

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

/** Defines the accessor above `proto` if it can; whether `req.tollgate` is ours afterwards. */
function prepare(proto: object): boolean {
  const base = baseRequestPrototype(proto);
  if (base === undefined) return false;
  // Someone else defined it (another copy of this package, or the app): leave theirs alone;
  // a sealed prototype keeps the plain (slower) property. Both still work the same.
  if (!Object.hasOwn(base, 'tollgate')) {
    if (!Object.isExtensible(base)) return false;
    Object.defineProperty(base, 'tollgate', accessor);
  }
  return Object.getOwnPropertyDescriptor(base, 'tollgate')?.get === accessor.get;
}

/** `locals` (`res.locals`) when `req.tollgate` is our accessor over it, else undefined (use `req.tollgate`). */
function slotOf(req: Request, locals: Locals | undefined): Locals | undefined {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null) return undefined;
  // An app has one request prototype: the last one answers without a WeakMap lookup (and is
  // kept alive by it, one at most).
  let ours = proto === lastProto ? lastOurs : prepared.get(proto);
  if (ours === undefined) {
    ours = prepare(proto);
    prepared.set(proto, ours);
  }
  lastProto = proto;
  lastOurs = ours;
  return ours ? locals : undefined;
}

let lastProto: object | undefined;
let lastOurs: boolean | undefined;

/**
 * Records a gate's decision on the request: `req.tollgate` and `res.locals.tollgate` (one slot
 * for requests Express made) become `record(previous state, decision)`. A caller that has read
 * `res.locals` already passes it as `resLocals`: each read of a property of `res` is a full
 * lookup (see above).
 *
 * @example
 * const state = recordRequestState(req, res, decision, runtime.record);
 */
export function recordRequestState(
  req: Request,
  res: Response,
  decision: Decision,
  record: (previous: GateState | undefined, decision: Decision) => GateState,
  resLocals: Locals | undefined = res.locals,
): GateState {
  const locals = slotOf(req, resLocals);
  if (locals !== undefined) {
    const state = record(locals.tollgate as GateState | undefined, decision);
    locals.tollgate = state;
    return state;
  }
  const state = record(req.tollgate, decision);
  req.tollgate = state;
  if (res.locals !== undefined) res.locals.tollgate = state;
  return state;
}
