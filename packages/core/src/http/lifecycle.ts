/**
 * The request lifecycle of metered routes: reservations are taken before the handler and
 * settled (committed or released) once, when the outcome of the request is known. Express
 * and Koa both sit on Node's `http.ServerResponse`, so the watching happens here, once.
 */
import type { ServerResponse } from 'node:http';
import { settleReservation } from '../engine/reservation.js';
import { SETTLED } from '../engine/settled.js';
import type { Reservation } from '../engine/types.js';
import { onClose, writableFinished } from './response-access.js';
import type { ChargeOn } from './types.js';

/**
 * How a request ended, as far as charging is concerned.
 * - `finished`: the response was fully sent with `status`.
 * - `errored`: the handler threw (Koa sees this; Express turns it into a 5xx `finished`).
 * - `aborted`: the client went away before the response was sent.
 * - `denied`: a later gate on the same route denied the request; the handler never ran.
 */
export type RequestOutcome =
  | { kind: 'finished'; status: number }
  | { kind: 'errored' }
  | { kind: 'aborted' }
  | { kind: 'denied' };

/**
 * Whether a reservation is charged for an outcome. `success` (default) charges only a
 * response below 400; `always` charges every request the handler ran for, whatever its
 * status (a thrown error included). A client that disconnected before the response, or a
 * request denied by another gate, is never charged.
 *
 * @example
 * settlementFor({ kind: 'finished', status: 201 }, 'success'); // 'commit'
 * settlementFor({ kind: 'finished', status: 500 }, 'success'); // 'release'
 * settlementFor({ kind: 'aborted' }, 'always'); // 'release'
 */
export function settlementFor(outcome: RequestOutcome, chargeOn: ChargeOn): 'commit' | 'release' {
  switch (outcome.kind) {
    case 'aborted':
    case 'denied':
      return 'release';
    case 'errored':
      return chargeOn === 'always' ? 'commit' : 'release';
    case 'finished':
      return chargeOn === 'always' || outcome.status < 400 ? 'commit' : 'release';
  }
}

/** Reports a commit/release that failed; it never reaches the request. */
export type SettlementErrorHandler = (error: unknown, action: 'commit' | 'release') => void;

/**
 * The reservations of one request. The first `settle` decides; later calls are no-ops, and a
 * reservation added after settling is settled at once with the same outcome.
 *
 * @example
 * const settlement = new RequestSettlement();
 * settlement.add(reservation, 'success');
 * await settlement.settle({ kind: 'finished', status: 200 }); // commits
 */
export class RequestSettlement {
  // The common route has one `meter`: keep it in two fields, out of an entry and an array
  // (this runs per request).
  #first: Reservation | undefined;
  #firstChargeOn: ChargeOn = 'success';
  #more: Entry[] | undefined;
  #outcome: RequestOutcome | undefined;
  #onError: SettlementErrorHandler | undefined;

  constructor(onError?: SettlementErrorHandler) {
    this.#onError = onError;
  }

  /** The outcome, once settled. */
  get outcome(): RequestOutcome | undefined {
    return this.#outcome;
  }

  /** Route commit/release failures to this handler (the last one set wins). */
  setErrorHandler(onError: SettlementErrorHandler | undefined): void {
    if (onError !== undefined) this.#onError = onError;
  }

  /** Track a reservation; settles it right away if the request already ended. */
  add(reservation: Reservation, chargeOn: ChargeOn): void {
    if (this.#outcome !== undefined) {
      void this.#apply(reservation, settlementFor(this.#outcome, chargeOn));
      return;
    }
    if (this.#first === undefined) {
      this.#first = reservation;
      this.#firstChargeOn = chargeOn;
    } else {
      this.#more ??= [];
      this.#more.push({ reservation, chargeOn });
    }
  }

  /** Commit or release every reservation for this outcome. Never rejects. */
  settle(outcome: RequestOutcome): Promise<void> {
    if (this.#outcome !== undefined) return SETTLED;
    this.#outcome = outcome;
    const first = this.#first;
    const more = this.#more;
    this.#first = undefined;
    this.#more = undefined;
    if (first === undefined) return SETTLED;
    const done = this.#apply(first, settlementFor(outcome, this.#firstChargeOn));
    if (more === undefined) return done;
    return Promise.all([
      done,
      ...more.map(({ reservation, chargeOn }) => this.#apply(reservation, settlementFor(outcome, chargeOn))),
    ]).then(noop);
  }

  #apply(reservation: Reservation, action: 'commit' | 'release'): Promise<void> {
    // The response is already on its way; a failed charge is the engine's to retry and report.
    try {
      const done = settleReservation(reservation, action);
      // The failure handler is made only for a settle that is still running, not per request.
      return done === SETTLED ? SETTLED : done.then(noop, (error: unknown) => this.#failed(error, action));
    } catch (error) {
      this.#failed(error, action);
      return SETTLED;
    }
  }

  #failed(error: unknown, action: 'commit' | 'release'): void {
    this.#onError?.(error, action);
  }
}

interface Entry {
  reservation: Reservation;
  chargeOn: ChargeOn;
}

const noop = (): void => {};

// A WeakMap, not a property on the response: Express swaps the prototype of every `res`, and
// adding a property to such an object measured ~2.5 µs against ~0.3 µs for a WeakMap entry.
// Cheaper still is a per-request object the framework already made (`holder`): a WeakMap
// entry whose key is a young response and whose table is old takes V8's ephemeron write
// barrier slow path (~1 µs per metered request in a profile of the Express app).
const settlements = new WeakMap<ServerResponse, RequestSettlement>();
const SETTLEMENT = Symbol('tollgate.settlement');

type Holder = { [SETTLEMENT]?: RequestSettlement };

/**
 * The settlement of a response, created on first use and settled by the response itself on
 * `close` (which Node emits after `finish` too): finished → `finished` with the status code;
 * closed before finishing → `aborted` (the client disconnected). Several `meter` gates on one
 * route share it, so they compose.
 *
 * `holder` is an object the framework makes once per request (Express's `res.locals`, Koa's
 * `ctx.state`) where the settlement is kept; without one it is kept in a `WeakMap` keyed by
 * `res`. Every caller for one request must pass the same `holder` (or none).
 *
 * @example
 * responseSettlement(res, onError, res.locals).add(reservation, 'success');
 */
export function responseSettlement(
  res: ServerResponse,
  onError?: SettlementErrorHandler,
  holder?: object,
): RequestSettlement {
  let settlement = existingSettlement(res, holder);
  if (settlement === undefined) {
    const created = new RequestSettlement(onError);
    settlement = created;
    if (holder === undefined) settlements.set(res, created);
    else (holder as Holder)[SETTLEMENT] = created;
    // Node sets `destroyed` (a plain field, cheaper than the getters) before it emits `close`:
    // while it is false, `close` is still to come. `on`, not `once`: it comes once anyway.
    if (!res.destroyed) onClose(res, holder === undefined ? settleOnClose : () => settleFor(res, created));
    // An async gate may resolve after the response ended or the client left: no event will
    // come any more (or, after `destroy()`, the response can no longer finish).
    else settleFor(res, created);
  } else {
    settlement.setErrorHandler(onError);
  }
  return settlement;
}

/**
 * The `close` listener of responses whose settlement is in the WeakMap: one function, not a
 * closure per request. An emitter calls its listeners with `this` set to itself.
 */
function settleOnClose(this: ServerResponse): void {
  const settlement = settlements.get(this);
  if (settlement !== undefined) settleFor(this, settlement);
}

function settleFor(res: ServerResponse, settlement: RequestSettlement): void {
  void settlement.settle(outcomeOf(res));
}

function outcomeOf(res: ServerResponse): RequestOutcome {
  return writableFinished(res) ? { kind: 'finished', status: res.statusCode } : { kind: 'aborted' };
}

/**
 * The settlement of a response if a `meter` gate created one (for `denied`/`errored`); pass
 * the `holder` the gates passed to {@link responseSettlement}.
 *
 * @example
 * existingSettlement(res, res.locals)?.settle({ kind: 'denied' });
 */
export function existingSettlement(res: ServerResponse, holder?: object): RequestSettlement | undefined {
  return holder === undefined ? settlements.get(res) : (holder as Holder)[SETTLEMENT];
}
