import { describe, expect, it } from 'vitest';
import { settleReservation } from './reservation.js';
import { alice, setup, useEngineTestLifecycle } from './test-setup.js';
import type { Reservation } from './types.js';

useEngineTestLifecycle();

describe.each(['batched', 'sync'] as const)('a %s reservation', (mode) => {
  it('commits through a detached commit, and a later release is a no-op', async () => {
    const { provider, tollgate } = setup({}, { meter: { mode } });
    const { commit, release, decision } = await tollgate.reserve(alice, { sms: 3 });
    expect(decision).toMatchObject({ allowed: true, featureId: 'sms', remaining: 97 });
    // Handed around as callbacks, with no `this`.
    await Promise.resolve().then(commit);
    await Promise.resolve().then(release);
    await tollgate.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 3 });
  });

  it('releases through a detached release, and a later commit charges nothing', async () => {
    const { provider, tollgate } = setup({}, { meter: { mode } });
    const reservation = await tollgate.reserve(alice, { sms: 3 });
    const { release } = reservation;
    await release();
    await reservation.commit();
    await tollgate.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 0 });
    expect((await tollgate.check(alice, 'sms')).remaining).toBe(100);
  });

  it('hands out the same commit and release functions on every access', async () => {
    const { tollgate } = setup({}, { meter: { mode } });
    const reservation = await tollgate.reserve(alice, { sms: 1 });
    expect(reservation.commit).toBe(reservation.commit);
    expect(reservation.release).toBe(reservation.release);
    await reservation.release();
  });
});

describe('settleReservation', () => {
  it('settles an engine reservation once, whichever way is called first', async () => {
    const { provider, tollgate } = setup();
    const reservation = await tollgate.reserve(alice, { sms: 2 });
    await settleReservation(reservation, 'commit');
    await settleReservation(reservation, 'release');
    await reservation.release();
    await tollgate.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 2 });
  });

  it('calls the methods of a reservation that is not the engine’s', async () => {
    const calls: string[] = [];
    const own: Reservation = {
      decision: undefined as unknown as Reservation['decision'],
      commit: async () => {
        calls.push('commit');
      },
      release: async () => {
        calls.push('release');
      },
    };
    await settleReservation(own, 'release');
    await settleReservation(own, 'commit');
    expect(calls).toEqual(['release', 'commit']);
  });
});
