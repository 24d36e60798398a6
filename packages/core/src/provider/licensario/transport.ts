/**
 * One HTTP exchange with the service over an undici dispatcher: headers, JSON body, query
 * string, the per-call time budget combined with the caller's `AbortSignal`, and the mapping of
 * network failures to `UnavailableError`. It knows nothing of endpoints.
 */
import type { Dispatcher } from 'undici';
import { ClosedError, ConfigurationError, InvalidResponseError, UnavailableError } from '../../errors.js';
import type { LicensarioConfig } from './options.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A query value: repeated keys for arrays (`featureIds=a&featureIds=b`); `undefined` is left out. */
export type QueryValue = string | readonly string[] | undefined;

export interface ExchangeRequest {
  method: HttpMethod;
  /** Path below `baseUrl`, ids already encoded, no query string. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as JSON; `undefined` members are left out. */
  body?: Record<string, unknown>;
  idempotencyKey?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ExchangeResponse {
  status: number;
  contentType: string | undefined;
  text: string;
  /** The full path that was requested, without the query string (for error messages). */
  path: string;
}

/**
 * Bound on an answer's size. The service's largest answers (a subject's licences, the catalog)
 * are kilobytes; a baseUrl pointing at the wrong thing must not fill the memory.
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Visible ASCII, no surrounding spaces, at most 255 characters (the service's limit). */
const IDEMPOTENCY_KEY = /^[!-~](?:[ -~]{0,253}[!-~])?$/;

/** Builds `?a=1&b=x&b=y`, or `''` when nothing is set. */
export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value === 'string') params.append(key, value);
    else for (const item of value) params.append(key, item);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

type NetworkReason = 'refused' | 'reset' | 'timeout' | 'network';

const REFUSED = new Set(['ECONNREFUSED']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
const TIMEOUT = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Finds the system/undici error code, looking through `cause` and `AggregateError.errors`. */
function networkReason(error: unknown, depth = 0): NetworkReason {
  if (depth > 4 || typeof error !== 'object' || error === null) return 'network';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (REFUSED.has(code)) return 'refused';
    if (RESET.has(code)) return 'reset';
    if (TIMEOUT.has(code)) return 'timeout';
  }
  const inner = [(error as { cause?: unknown }).cause, ...((error as { errors?: unknown[] }).errors ?? [])];
  for (const candidate of inner) {
    const reason = networkReason(candidate, depth + 1);
    if (reason !== 'network') return reason;
  }
  return 'network';
}

function isClosedDispatcher(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED';
}

/**
 * The abort signal of one call: fired when its time budget runs out or the caller's signal
 * fires, and disarmed when the call ends. Not `AbortSignal.timeout` + `AbortSignal.any`: that
 * timer outlives the call and builds a `DOMException` when it fires, and the combined signal
 * is tracked for garbage collection; both showed in the profile of every batched flush.
 */
class CallBudget {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;
  #timedOut = false;

  constructor(timeoutMs: number, caller: AbortSignal | undefined) {
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort();
    }, timeoutMs);
    this.#timer.unref?.();
    this.#caller = caller;
    if (caller !== undefined) {
      this.#onCallerAbort = () => this.#controller.abort(caller.reason);
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True when the budget ran out (as opposed to the caller aborting). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  end(): void {
    clearTimeout(this.#timer);
    if (this.#onCallerAbort !== undefined) this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }
}

/**
 * Sends requests for one provider.
 *
 * @example
 * const transport = createTransport(config, new Pool(config.origin));
 * const res = await transport.exchange({ method: 'GET', path: '/api/v1/plans' });
 */
export function createTransport(config: LicensarioConfig, dispatcher: Dispatcher) {
  const baseHeaders: Record<string, string> = {
    accept: 'application/json',
    ISV_API_KEY: config.apiKey,
    ISV_API_SECRET: config.apiSecret,
  };

  function unavailable(
    reason: UnavailableError['reason'],
    request: ExchangeRequest,
    path: string,
    cause: unknown,
  ) {
    const what = `${request.method} ${path}`;
    const where = config.origin;
    const messages: Record<UnavailableError['reason'], string> = {
      timeout: `Licensario at ${where} did not answer ${what} within ${config.timeoutMs} ms: check that the service is healthy, or raise timeoutMs.`,
      refused: `Could not connect to Licensario at ${where} for ${what} (connection refused): is the service running, and is baseUrl right?`,
      reset: `The connection to Licensario at ${where} was closed during ${what}: retry; if it keeps happening, check the service's logs and any proxy in between.`,
      aborted: `${what} was cancelled by the caller's AbortSignal.`,
      network: `Could not reach Licensario at ${where} for ${what}: check baseUrl (host name, port, TLS) and the network.`,
      circuit_open: `Licensario at ${where} is failing; ${what} was not sent.`,
    };
    return new UnavailableError(messages[reason], reason, { cause });
  }

  async function exchange(request: ExchangeRequest): Promise<ExchangeResponse> {
    const path = `${config.basePath}${request.path}`;
    if (request.signal?.aborted) throw unavailable('aborted', request, path, request.signal.reason);
    const budget = new CallBudget(config.timeoutMs, request.signal);

    const headers: Record<string, string> = { ...baseHeaders };
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }
    if (request.idempotencyKey !== undefined) {
      if (!IDEMPOTENCY_KEY.test(request.idempotencyKey)) {
        throw new ConfigurationError(
          'idempotencyKey must be 1 to 255 visible ASCII characters (a UUID from crypto.randomUUID() is ideal).',
        );
      }
      headers['idempotency-key'] = request.idempotencyKey;
    }

    try {
      const response = await dispatcher.request({
        origin: config.origin,
        path: path + queryString(request.query),
        method: request.method,
        headers,
        body: body ?? null,
        signal: budget.signal,
      });
      // Always read the body to the end: an unread body keeps the socket from being reused.
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          response.body.destroy();
          throw new InvalidResponseError(
            `Licensario answered ${request.method} ${path} with more than ${MAX_RESPONSE_BYTES} bytes: ` +
              'check that baseUrl points at a Tollgate/Licensario service.',
          );
        }
        chunks.push(chunk);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const contentType = response.headers['content-type'];
      return {
        status: response.statusCode,
        contentType: Array.isArray(contentType) ? contentType[0] : contentType,
        text,
        path,
      };
    } catch (error) {
      if (error instanceof InvalidResponseError) throw error;
      // Which signal fired decides the reason: the caller's (aborted) or our budget (timeout).
      if (request.signal?.aborted) throw unavailable('aborted', request, path, error);
      if (budget.timedOut) throw unavailable('timeout', request, path, error);
      if (isClosedDispatcher(error)) {
        throw new ClosedError(
          'This licensarioProvider is closed; create a new one with licensarioProvider() to keep working.',
        );
      }
      throw unavailable(networkReason(error), request, path, error);
    } finally {
      budget.end();
    }
  }

  return { exchange };
}

export type Transport = ReturnType<typeof createTransport>;
