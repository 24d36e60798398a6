/**
 * A small method + path-template router. Templates use `:name` segments; ids arrive
 * percent-decoded, one path segment each (so `a%2Fb` is the id `a/b`).
 */
import { ServiceError } from '../service-error.js';

/** A matched route: its template (`GET /api/v1/licenses/:id`) and path parameters. */
export interface RouteMatch<H> {
  template: string;
  handler: H;
  params: Record<string, string>;
}

interface Route<H> {
  method: string;
  template: string;
  segments: string[];
  handler: H;
}

/**
 * Split a raw path (no query) into decoded segments; `400` on malformed percent-encoding.
 *
 * @example
 * pathSegments('/api/v1/users/external/a%2Fb'); // ['api', 'v1', 'users', 'external', 'a/b']
 */
export function pathSegments(rawPath: string): string[] {
  const parts = rawPath.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    throw new ServiceError(400, 'invalid_request', 'Malformed percent-encoding in the path.');
  }
}

/**
 * Routes tried in registration order; literal segments must match exactly.
 *
 * @example
 * const router = new Router<Handler>().add('GET', '/api/v1/plans', listPlans);
 * router.match('GET', pathSegments('/api/v1/plans'));
 */
export class Router<H> {
  private readonly routes: Route<H>[] = [];

  add(method: string, template: string, handler: H): this {
    this.routes.push({
      method,
      template: `${method} ${template}`,
      segments: template.split('/').slice(1),
      handler,
    });
    return this;
  }

  match(method: string, segments: readonly string[]): RouteMatch<H> | undefined {
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (const [i, part] of route.segments.entries()) {
        const value = segments[i]!;
        if (part.startsWith(':')) {
          if (value === '') {
            ok = false;
            break;
          }
          params[part.slice(1)] = value;
        } else if (part !== value) {
          ok = false;
          break;
        }
      }
      if (ok) return { template: route.template, handler: route.handler, params };
    }
    return undefined;
  }
}

/** Request counters, for operators and for tests that count backend requests. */
export interface ServerStats {
  /** Every request received (matched or not, authorised or not). */
  readonly total: number;
  /** Requests per route template, e.g. `GET /api/v1/users/external/:id/licenses`. */
  readonly byRoute: Readonly<Record<string, number>>;
  /** Requests for one route template (0 if none). */
  count(template: string): number;
  /** Zero every counter. */
  reset(): void;
}

/** Mutable counters behind {@link ServerStats}. */
export class RequestStats implements ServerStats {
  total = 0;
  byRoute: Record<string, number> = {};

  count(template: string): number {
    return this.byRoute[template] ?? 0;
  }

  reset(): void {
    this.total = 0;
    this.byRoute = {};
  }

  record(template: string | undefined): void {
    this.total++;
    if (template !== undefined) this.byRoute[template] = (this.byRoute[template] ?? 0) + 1;
  }
}
