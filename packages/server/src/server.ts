/**
 * `createServer`: the HTTP service over the store. One request = authenticate, route, read
 * parameters, run the handler (inside a transaction with its idempotency record when an
 * `Idempotency-Key` is sent, see idempotency.ts), answer in the negotiated format.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationError, type EntitlementProvider } from '@tollgate/core';
import { z } from 'zod';
import { type Catalog, type CatalogSource, loadCatalog } from './catalog.js';
import { type Credential, createAuthenticator } from './http/auth.js';
import { bodyParams, readBody } from './http/body.js';
import { preferredFormat } from './http/negotiate.js';
import { Params, parseFormEncoded } from './http/params.js';
import { errorReply, type Reply } from './http/representation.js';
import { pathSegments, RequestStats, type ServerStats } from './http/router.js';
import { checkIdempotencyKey, requestFingerprint, runIdempotent } from './idempotency.js';
import { localProvider } from './local-provider.js';
import { type Logger, silentLogger } from './logger.js';
import { createRoutes } from './routes.js';
import { ServiceError } from './service-error.js';
import { Store } from './store/store.js';
import { generateWizardSecret, signWizardToken, verifyWizardToken } from './wizard-token.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The plan catalog: an object, or the path of its JSON file. Validated at start. */
  catalog: CatalogSource;
  /** TCP port; 0 picks a free one (read it back from `server.port`). @default 4000 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Directory of the embedded database; absent = in memory, gone when closed. */
  dataDir?: string;
  /** Accepted `ISV_API_KEY` / `ISV_API_SECRET` pairs (several during a key rotation). */
  credentials: readonly Credential[];
  /** Time source (epoch ms), for tests of expiry and trials. @default Date */
  clock?: { now(): number };
  /** Pino-compatible logger. @default silent */
  logger?: Logger;
  /** Lifetime of wizard tokens. @default 600000 (10 minutes) */
  wizardTokenTtlMs?: number;
}

/** A running service. */
export interface TollgateServer {
  /** `http://host:port`, with the real port when 0 was asked. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Request counters (total and per route template). */
  readonly stats: ServerStats;
  readonly store: Store;
  readonly catalog: Catalog;
  /** An in-process `EntitlementProvider` over the same store. */
  readonly provider: EntitlementProvider;
  /** Sign a wizard token naming an external user (what `POST /api/v1/wizards` answers). */
  createWizardToken(externalUserId: string): string;
  /** The external user a wizard token names; throws `WizardTokenError` if forged or expired. */
  verifyWizardToken(token: string): string;
  /** Stop accepting, finish in-flight requests, close sockets and the database. */
  close(): Promise<void>;
}

const hasFunctions =
  (...names: string[]) =>
  (value: unknown) =>
    typeof value === 'object' &&
    value !== null &&
    names.every((n) => typeof (value as Record<string, unknown>)[n] === 'function');

const optionsSchema = z.strictObject({
  catalog: z.union([z.string().min(1), z.looseObject({ plans: z.unknown() })], {
    error: 'expected a catalog object or the path of a catalog JSON file',
  }),
  port: z.number().int().min(0).max(65535).default(4000),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).optional(),
  credentials: z
    .array(z.strictObject({ key: z.string().min(1), secret: z.string().min(1) }), {
      error: 'expected an array of { key, secret } pairs',
    })
    .min(1, { error: 'expected at least one { key, secret } pair' }),
  clock: z
    .custom<{ now(): number }>(hasFunctions('now'), { error: 'expected an object with now()' })
    .optional(),
  logger: z
    .custom<Logger>(hasFunctions('debug', 'info', 'warn', 'error'), {
      error: 'expected a pino-compatible logger (debug/info/warn/error)',
    })
    .optional(),
  wizardTokenTtlMs: z.number().int().positive().default(600_000),
});

const WRITE_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * Start the service. Options are validated first (a `ConfigurationError` names the bad one),
 * then the catalog, then the store is opened and migrated, then the port is bound.
 *
 * @example
 * const server = await createServer({
 *   catalog: 'examples/catalog.json',
 *   port: 0,
 *   credentials: [{ key: 'key', secret: 'secret' }],
 * });
 * console.log(server.url);
 * await server.close();
 */
export async function createServer(options: ServerOptions): Promise<TollgateServer> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const details = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`)
      .join('; ');
    throw new ConfigurationError(`Invalid createServer options: ${details}.`, {
      issues: parsed.error.issues,
      cause: parsed.error,
    });
  }
  const config = parsed.data;
  const logger = config.logger ?? silentLogger;
  const clock = config.clock ?? Date;
  const catalog = loadCatalog(config.catalog as CatalogSource);
  const store = await Store.open({ catalog, dataDir: config.dataDir, clock });
  const secret = await store.setting('wizard_secret', generateWizardSecret);
  const createWizardToken = (externalUserId: string) =>
    signWizardToken(secret, externalUserId, clock.now() + config.wizardTokenTtlMs);

  const authenticate = createAuthenticator(config.credentials);
  const router = createRoutes();
  const stats = new RequestStats();
  const templates = new WeakMap<IncomingMessage, string>();
  const template = (req: IncomingMessage) => templates.get(req) ?? 'unmatched';
  let closing = false;

  async function respond(req: IncomingMessage): Promise<Reply & { replayed?: boolean }> {
    const format = preferredFormat(req.headers.accept);
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1);
    let match: ReturnType<typeof router.match>;
    try {
      match = router.match(method, pathSegments(rawPath));
    } finally {
      stats.record(match?.template);
      if (match !== undefined) templates.set(req, match.template);
    }
    // Authenticate before saying whether a path exists.
    if (!authenticate(req.headers)) {
      throw new ServiceError(401, 'unauthorized', 'Send valid ISV_API_KEY and ISV_API_SECRET headers.');
    }
    if (match === undefined) throw new ServiceError(404, 'not_found', `No endpoint ${method} ${rawPath}.`);
    const handler = match.handler;
    const text = await readBody(req, handler.bodyLimit);
    const contentType = req.headers['content-type'];
    const params = new Params(
      parseFormEncoded(query),
      ...(handler.rawBody === true ? [] : [bodyParams(contentType, text)]),
    );
    const context = {
      params,
      path: match.params,
      format,
      body: text,
      contentType,
      logger,
      signWizardToken: createWizardToken,
    };

    const key = req.headers['idempotency-key'];
    if (
      handler.ownIdempotency === true ||
      !WRITE_METHODS.has(method) ||
      typeof key !== 'string' ||
      key === ''
    ) {
      return handler({ ...context, store });
    }
    checkIdempotencyKey(key, 'Idempotency-Key');
    const fingerprint = handler.fingerprint?.(context) ?? requestFingerprint(method, rawPath, params);
    return runIdempotent(store, key, fingerprint, (tx) => handler({ ...context, store: tx }));
  }

  function send(req: IncomingMessage, res: ServerResponse, reply: Reply & { replayed?: boolean }) {
    const headers: Record<string, string | number> = {
      'content-type': reply.contentType,
      'content-length': Buffer.byteLength(reply.body),
    };
    if (reply.replayed === true) headers['idempotent-replayed'] = 'true';
    // An unread oversized body or a closing server: do not keep this connection.
    if (reply.status === 413 || closing) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    res.end(req.method === 'HEAD' ? undefined : reply.body);
    // Method, path template and status only: never parameters, ids or headers (credentials).
    logger.debug({ method: req.method, route: template(req), status: reply.status }, 'request');
  }

  const http = createHttpServer((req, res) => {
    const format = preferredFormat(req.headers.accept);
    respond(req)
      .catch((error: unknown): Reply => {
        if (error instanceof ServiceError) {
          return errorReply(
            error.status,
            error.code,
            error.message,
            format,
            error.available === undefined ? {} : { available: Number(error.available) },
          );
        }
        logger.error(
          { err: error, method: req.method, path: (req.url ?? '').split('?')[0] },
          'request failed',
        );
        return errorReply(500, 'internal', 'Internal error; the service log has the details.', format);
      })
      .then((reply) => send(req, res, reply))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'could not send the response');
        res.destroy();
      });
  });
  http.keepAliveTimeout = 5_000;

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    await store.close();
    throw new ConfigurationError(
      `Cannot listen on ${config.host}:${config.port} (${(cause as NodeJS.ErrnoException).code ?? 'error'}); choose another --port or stop the process using it.`,
      { cause },
    );
  }
  const port = (http.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url }, 'listening');

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    host: config.host,
    stats,
    store,
    catalog,
    provider: localProvider(store),
    createWizardToken,
    verifyWizardToken: (token) => verifyWizardToken(secret, token, clock.now()),
    close() {
      closed ??= (async () => {
        closing = true;
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeIdleConnections();
        });
        await store.close();
        logger.info({ url }, 'closed');
      })();
      return closed;
    },
  };
}
