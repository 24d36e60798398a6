import http, { type IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { onClose, setResponseHeader, writableFinished } from './response-access.js';

let server: http.Server | undefined;
afterEach(async () => {
  const running = server;
  server = undefined;
  if (running === undefined) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

async function serve(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  options: http.ServerOptions = {},
): Promise<number> {
  server = http.createServer(options, handle);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** What `writableFinished` and the plain property said, before `end()` and on `close`. */
type Reading = { before: [boolean, boolean]; onClose: [boolean, boolean] };

describe('writableFinished', () => {
  it('reads as res.writableFinished does, for a response that finished', async () => {
    const reading = new Promise<Reading>((resolve) => {
      void serve((_req, res) => {
        const before: [boolean, boolean] = [writableFinished(res), res.writableFinished];
        res.on('close', () => resolve({ before, onClose: [writableFinished(res), res.writableFinished] }));
        res.end('ok');
      }).then((port) => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()));
    });
    expect(await reading).toEqual({ before: [false, false], onClose: [true, true] });
  });

  it('reads as res.writableFinished does, for a client that went away first', async () => {
    let abort: () => void = () => {};
    const reading = new Promise<Reading>((resolve) => {
      void serve((_req, res) => {
        const before: [boolean, boolean] = [writableFinished(res), res.writableFinished];
        res.on('close', () => resolve({ before, onClose: [writableFinished(res), res.writableFinished] }));
        res.writeHead(200);
        res.write('partial');
        abort();
      }).then((port) => {
        const controller = new AbortController();
        abort = () => controller.abort();
        return fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal }).catch(() => undefined);
      });
    });
    expect(await reading).toEqual({ before: [false, false], onClose: [false, false] });
  });

  it('reads the property of a response that is not a Node OutgoingMessage', () => {
    expect(writableFinished({ writableFinished: true } as unknown as ServerResponse)).toBe(true);
    expect(writableFinished({ writableFinished: false } as unknown as ServerResponse)).toBe(false);
  });
});

describe('onClose', () => {
  const closed = (port: number) => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());

  it('runs the listener on close, with the response as `this`', async () => {
    const seen = new Promise<boolean>((resolve) => {
      void serve((_req, res) => {
        onClose(res, function (this: ServerResponse) {
          resolve(this === res);
        });
        res.end('ok');
      }).then(closed);
    });
    expect(await seen).toBe(true);
  });

  it('goes through an `on` patched onto the response (as compression does)', async () => {
    const registered: string[] = [];
    const seen = new Promise<void>((resolve) => {
      void serve((_req, res) => {
        const original = res.on;
        res.on = function (this: ServerResponse, event: string, listener: () => void) {
          registered.push(event);
          return original.call(this, event, listener);
        } as typeof res.on;
        onClose(res, () => resolve());
        res.end('ok');
      }).then(closed);
    });
    await seen;
    expect(registered).toEqual(['close']);
  });

  it('goes through an `on` a response class overrides', async () => {
    const registered: string[] = [];
    class Recording extends ServerResponse {}
    Recording.prototype.on = function (this: Recording, event: string, listener: () => void) {
      registered.push(event);
      return ServerResponse.prototype.on.call(this, event, listener);
    } as typeof Recording.prototype.on;
    const seen = new Promise<void>((resolve) => {
      void serve(
        (_req, res) => {
          onClose(res, () => resolve());
          res.end('ok');
        },
        { ServerResponse: Recording as typeof ServerResponse },
      ).then(closed);
    });
    await seen;
    expect(registered).toContain('close');
  });
});

describe('setResponseHeader', () => {
  const headersOf = (port: number) => fetch(`http://127.0.0.1:${port}/`).then((r) => r.headers);

  it('sets the header as res.setHeader does', async () => {
    const port = await serve((_req, res) => {
      setResponseHeader(res, 'ratelimit', '"sms";r=41');
      res.end('ok');
    });
    expect((await headersOf(port)).get('ratelimit')).toBe('"sms";r=41');
  });

  it('rejects a value res.setHeader rejects', async () => {
    const thrown = new Promise<unknown>((resolve) => {
      void serve((_req, res) => {
        try {
          setResponseHeader(res, 'ratelimit', 'bad\nvalue');
          resolve(undefined);
        } catch (error) {
          resolve(error);
        }
        res.end('ok');
      }).then(headersOf);
    });
    expect(await thrown).toMatchObject({ code: 'ERR_INVALID_CHAR' });
  });

  it('goes through a `setHeader` patched onto the response', async () => {
    const port = await serve((_req, res) => {
      const original = res.setHeader;
      res.setHeader = function (this: ServerResponse, name: string, value: string) {
        return original.call(this, name, `${value} (patched)`);
      } as typeof res.setHeader;
      setResponseHeader(res, 'ratelimit', '"sms";r=41');
      res.end('ok');
    });
    expect((await headersOf(port)).get('ratelimit')).toBe('"sms";r=41 (patched)');
  });

  it('goes through a `setHeader` a response class overrides', async () => {
    class Recording extends ServerResponse {
      override setHeader(name: string, value: string | number | readonly string[]): this {
        return super.setHeader(name, `${String(value)} (class)`);
      }
    }
    const port = await serve(
      (_req, res) => {
        setResponseHeader(res, 'ratelimit', '"sms";r=41');
        res.end('ok');
      },
      { ServerResponse: Recording as typeof ServerResponse },
    );
    expect((await headersOf(port)).get('ratelimit')).toBe('"sms";r=41 (class)');
  });
});
