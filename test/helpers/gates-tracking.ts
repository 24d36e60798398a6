/**
 * Knowing when a request's charge is settled. Commit and release run after the response
 * (sync metering refunds over HTTP), so a test that counts charges must wait for them. This
 * wraps a real engine and hands out its real reservations, noting when each one's commit or
 * release has finished; nothing is faked. A reservation that is never settled makes the wait
 * (and so the test) time out: every reservation must be settled exactly as the table says.
 */
import type { Reservation, Tollgate } from '@tollgate/core';

export interface TrackedTollgate {
  tollgate: Tollgate;
  /** Resolves once every reservation handed out so far has been committed or released. */
  settled(): Promise<void>;
}

/**
 * @example
 * const { tollgate, settled } = trackSettlements(createTollgate({ provider }));
 * await request(app).get('/x');
 * await settled();
 */
export function trackSettlements(engine: Tollgate): TrackedTollgate {
  const pending: Promise<void>[] = [];
  const wrap = (reservation: Reservation): Reservation => {
    let done!: () => void;
    pending.push(
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    );
    return {
      decision: reservation.decision,
      commit: () => reservation.commit().finally(done),
      release: () => reservation.release().finally(done),
    };
  };
  const tollgate: Tollgate = {
    check: (...args) => engine.check(...args),
    checkCached: (...args) => engine.checkCached(...args),
    authrep: (...args) => engine.authrep(...args),
    reserve: async (...args) => wrap(await engine.reserve(...args)),
    reserveCached: (...args) => {
      const reservation = engine.reserveCached(...args);
      return reservation === undefined ? undefined : wrap(reservation);
    },
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
  return { tollgate, settled: () => Promise.all(pending).then(() => undefined) };
}
