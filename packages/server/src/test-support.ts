/**
 * Test helpers (excluded from the build): start a real server on port 0 and call it with raw
 * `fetch`, no client library.
 */
import type { Logger } from './logger.js';
import { createServer, type ServerOptions, type TollgateServer } from './server.js';

/**
 * A logger that keeps every line as `level message {fields}` (an `err` field as its text), for
 * tests that check what the service logs and that secrets never reach it.
 *
 * @example
 * const { logger, lines } = capturingLogger();
 * const server = await startServer({ logger });
 */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const capture =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj, (k, v) => (k === 'err' ? String(v) : v))}`);
    };
  return {
    lines,
    logger: {
      debug: capture('debug'),
      info: capture('info'),
      warn: capture('warn'),
      error: capture('error'),
    },
  };
}

export const KEY = 'test-key';
export const SECRET = 'test-secret';
export const AUTH = { ISV_API_KEY: KEY, ISV_API_SECRET: SECRET };

export const CATALOG = {
  plans: [
    { id: 'free', name: 'Free', features: { reports: true, sms: 10 } },
    {
      id: 'pro',
      name: 'Pro',
      trialDays: 14,
      durationDays: 30,
      features: { reports: true, export: true, sms: 1000 },
    },
    { id: 'team', name: 'Team', durationDays: 365, features: { export: true, sms: 100 } },
    { id: 'forever', name: 'Forever', features: { sms: 5 } },
  ],
};

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public ms = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  now = (): number => this.ms;
  advanceDays(days: number): void {
    this.ms += days * 86_400_000;
  }
}

export function startServer(options: Partial<ServerOptions> = {}): Promise<TollgateServer> {
  return createServer({
    catalog: CATALOG,
    port: 0,
    credentials: [{ key: KEY, secret: SECRET }],
    ...options,
  });
}

export interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  form?: string;
  accept?: string;
  auth?: boolean;
}

export interface CallResult {
  status: number;
  text: string;
  contentType: string;
  headers: { get(name: string): string | null };
  json(): Record<string, unknown> & { code?: string };
}

/** `fetch` against the server with the test credentials. */
export async function call(
  server: TollgateServer,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...(options.auth === false ? {} : AUTH), ...options.headers };
  if (options.accept !== undefined) headers.accept = options.accept;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = options.form;
  }
  const res = await fetch(server.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return {
    status: res.status,
    text,
    contentType: res.headers.get('content-type') ?? '',
    headers: res.headers,
    json: () => JSON.parse(text) as Record<string, unknown> & { code?: string },
  };
}
