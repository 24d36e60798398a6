/**
 * Knowing when a request's charge is settled. Commit and release run after the response
 * (sync metering refunds over HTTP), so a test that counts charges must wait for them. This
 * wraps a real engine and hands out its real reservations, noting when each one's commit or
 * release has finished; nothing is faked. A reservation that is never settled makes the wait
 * (and so the test) time out: every reservation must be settled exactly as the table says.
 */
import type { Reservation, Tollgate } from '@tollgate/core';
// Internal: the metered gates' one-feature path of the engine (not exported by the package).
import { type ReserveOne, reserveOneCached } from '../../packages/core/src/engine/reserve-one.js';

export interface TrackedTollgate {
  tollgate: Tollgate;
  /** Resolves once every reservation handed out so far has been committed or released. */
  settled(): Promise<void>;
}

/** The engine's reservations settle through `settle`, which `commit`/`release` also call. */
type Settling = Reservation & { settle(commit: boolean): Promise<void> };

/**
 * `oneFeaturePath: false` hands the gates an engine without the one-feature path, as a
 * `Tollgate` that is not ours would be: they reserve through `reserveCached`/`reserve`.
 *
 * @example
 * const { tollgate, settled } = trackSettlements(createTollgate({ provider }));
 * await request(app).get('/x');
 * await settled();
 */
export function trackSettlements(
  engine: Tollgate,
  options: { oneFeaturePath?: boolean } = {},
): TrackedTollgate {
  const pending: Promise<void>[] = [];
  // The engine's own reservation object, observed in place: the gates must get the real one
  // (they treat the one-feature reservation differently from any other).
  const track = <R extends Reservation | undefined>(reservation: R): R => {
    if (reservation === undefined) return reservation;
    let done!: () => void;
    pending.push(
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    );
    const real = reservation as Reservation as Settling;
    const settle = real.settle.bind(real);
    real.settle = (commit) => settle(commit).finally(done);
    return reservation;
  };
  const tollgate: Tollgate = {
    check: (...args) => engine.check(...args),
    checkCached: (...args) => engine.checkCached(...args),
    authrep: (...args) => engine.authrep(...args),
    reserve: async (...args) => track(await engine.reserve(...args)),
    reserveCached: (...args) => track(engine.reserveCached(...args)),
    report: (...args) => engine.report(...args),
    invalidate: (...args) => engine.invalidate(...args),
    flush: () => engine.flush(),
    close: (...args) => engine.close(...args),
    on: (...args) => engine.on(...args),
    stats: () => engine.stats(),
    get provider() {
      return engine.provider;
    },
  };
  const one = (engine as Tollgate & Partial<ReserveOne>)[reserveOneCached];
  if (options.oneFeaturePath !== false && one !== undefined) {
    (tollgate as Tollgate & ReserveOne)[reserveOneCached] = (...args) => track(one.apply(engine, args));
  }
  return { tollgate, settled: () => Promise.all(pending).then(() => undefined) };
}
