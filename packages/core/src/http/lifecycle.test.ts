import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reservation } from '../engine/types.js';
import { existingSettlement, type RequestOutcome, responseSettlement } from './lifecycle.js';

/** A reservation that records what happened to it. */
function recordingReservation(): Reservation & { actions: string[] } {
  const actions: string[] = [];
  return {
    actions,
    decision: undefined as unknown as Reservation['decision'],
    commit: async () => {
      actions.push('commit');
    },
    release: async () => {
      actions.push('release');
    },
  };
}

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A real server whose single request is handed to `handle`; resolves with its port. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const settled = (res: ServerResponse) =>
  new Promise<RequestOutcome | undefined>((resolve) => {
    const poll = () => {
      const outcome = responseSettlement(res).outcome;
      if (outcome) resolve(outcome);
      else setTimeout(poll, 5);
    };
    poll();
  });

describe('responseSettlement on a real response', () => {
  it('commits when the response finishes below 400', async () => {
    const reservation = recordingReservation();
    let outcome: Promise<RequestOutcome | undefined> | undefined;
    const port = await serve((_req, res) => {
      responseSettlement(res).add(reservation, 'success');
      outcome = settled(res);
      res.end('ok');
    });
    await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    expect(await outcome).toEqual({ kind: 'finished', status: 200 });
    expect(reservation.actions).toEqual(['commit']);
  });

  it('keeps the settlement in the holder the framework gives, and still settles on close', async () => {
    const first = recordingReservation();
    const second = recordingReservation();
    let outcome: Promise<RequestOutcome | undefined> | undefined;
    const port = await serve((_req, res) => {
      const holder = {};
      // Two gates of one route share the settlement through the holder, not through `res`.
      responseSettlement(res, undefined, holder).add(first, 'success');
      responseSettlement(res, undefined, holder).add(second, 'always');
      expect(existingSettlement(res)).toBeUndefined();
      const settlement = existingSettlement(res, holder);
      outcome = new Promise((resolve) =>
        res.on('close', () => setImmediate(() => resolve(settlement?.outcome))),
      );
      res.statusCode = 500;
      res.end('failed');
    });
    await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    expect(await outcome).toEqual({ kind: 'finished', status: 500 });
    expect(first.actions).toEqual(['release']);
    expect(second.actions).toEqual(['commit']);
  });

  it('settles each of many concurrent responses with its own outcome', async () => {
    const reservations = new Map<number, ReturnType<typeof recordingReservation>>();
    const outcomes: Promise<RequestOutcome | undefined>[] = [];
    const port = await serve((req, res) => {
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status'));
      const reservation = recordingReservation();
      reservations.set(status, reservation);
      responseSettlement(res).add(reservation, 'success');
      outcomes.push(settled(res));
      // Finish out of arrival order, so one response's close cannot pass for another's.
      setTimeout(
        () => {
          res.statusCode = status;
          res.end();
        },
        (600 - status) / 10,
      );
    });
    const statuses = [200, 201, 204, 400, 404, 409, 500, 503];
    await Promise.all(statuses.map((status) => fetch(`http://127.0.0.1:${port}/?status=${status}`)));
    await Promise.all(outcomes);
    for (const status of statuses) {
      expect([status, reservations.get(status)?.actions]).toEqual([
        status,
        [status < 400 ? 'commit' : 'release'],
      ]);
    }
  });

  it('settles at once when a slow gate resolves after the response already closed', async () => {
    const reservation = recordingReservation();
    const done = new Promise<ServerResponse>((resolve) => {
      void serve((_req, res) => {
        res.statusCode = 201;
        res.end('early');
        res.on('close', () => resolve(res));
      }).then((port) => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()));
    });
    const res = await done;
    // No `close` will come any more: the settlement must not wait for one.
    responseSettlement(res).add(reservation, 'success');
    expect(responseSettlement(res).outcome).toEqual({ kind: 'finished', status: 201 });
    await Promise.resolve();
    expect(reservation.actions).toEqual(['commit']);
  });

  it('releases when the client left before a slow gate resolved', async () => {
    const reservation = recordingReservation();
    const gone = new Promise<ServerResponse>((resolve) => {
      void serve((_req, res) => {
        res.on('close', () => resolve(res));
      }).then((port) => {
        const controller = new AbortController();
        fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal }).catch(() => {});
        setTimeout(() => controller.abort(), 50);
      });
    });
    const res = await gone;
    responseSettlement(res).add(reservation, 'always');
    expect(responseSettlement(res).outcome).toEqual({ kind: 'aborted' });
    await Promise.resolve();
    expect(reservation.actions).toEqual(['release']);
  });

  it('releases when the client disconnects while the handler runs', async () => {
    const reservation = recordingReservation();
    let outcome: Promise<RequestOutcome | undefined> | undefined;
    const port = await serve((_req, res) => {
      responseSettlement(res).add(reservation, 'always');
      outcome = settled(res);
    });
    const controller = new AbortController();
    const request = fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal }).catch(() => {});
    setTimeout(() => controller.abort(), 50);
    await request;
    expect(await outcome).toEqual({ kind: 'aborted' });
    expect(reservation.actions).toEqual(['release']);
  });
});
