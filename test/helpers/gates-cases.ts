/**
 * THE gate behaviour table: one list of cases, run unchanged against Express 4 and 5 and
 * Koa 2 and 3 (test/gates-express.test.ts, test/gates-koa.test.ts), on the real service.
 * A case names the route (gates + handler), the subject's entitlements, the request, and
 * what the client sees and what the service charged.
 */
import type { ChargeOn } from '@tollgate/core';

/** One gate on the route, in framework-neutral terms. */
export type GateSpec =
  | { kind: 'require'; featureId: string; planId?: string }
  | {
      kind: 'meter';
      featureId: string;
      /** A constant, or `query`: `Number(query.amount)` per request (to feed bad amounts). */
      amount: number | 'query';
      chargeOn?: ChargeOn;
      planId?: string;
    };

/** What the handler after the gates does. */
export type HandlerSpec =
  | { kind: 'respond'; status: number }
  /** Throws synchronously (Express: `next(err)` → 500; Koa: the error propagates → 500). */
  | { kind: 'throw' }
  /** Never answers: waits until the client goes away (for the disconnect case). */
  | { kind: 'hang' };

export interface GateCase {
  name: string;
  /** Plans the subject holds (fresh subject per case). */
  grants?: string[];
  /** Plans the subject held, expired a month ago. */
  expired?: string[];
  /** Allocation overrides after the grants: featureId → available. */
  available?: Record<string, number>;
  /** The request names no subject. */
  anonymous?: boolean;
  /** `down`: the service cannot be reached. @default 'service' */
  backend?: 'service' | 'down';
  failMode?: 'closed' | 'open';
  gates: GateSpec[];
  handler?: HandlerSpec;
  /** `upsell`: `upsellRedirect({ to: '/pricing' })`; `upsell-next`: same, `returnTo` from `?next=`. */
  onDenied?: 'upsell' | 'upsell-next';
  request?: {
    /** Path and query after `/gated`. @default '' */
    query?: string;
    accept?: string;
    /** The client aborts while the handler runs. */
    disconnect?: boolean;
  };
  expect: {
    /** `null` for a client that disconnected. */
    status: number | null;
    /** The problem `type`, for problem+json answers. */
    problemType?: string;
    /** Members the JSON body must have (subset match). */
    body?: Record<string, unknown>;
    /** Headers the response must carry (`undefined` = must be absent). */
    headers?: Record<string, string | RegExp | undefined>;
    /** Units the service charged per feature once everything is flushed (0 = nothing). */
    charged?: Record<string, number>;
    /** What the handler saw in the attached state: featureId → remaining. */
    remainingSeen?: Record<string, number | undefined>;
  };
}

const problem = (slug: string) => `https://tollgate.dev/problems/${slug}`;
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Attempts to turn `return_to` into an open redirect; each must be dropped. */
export const OPEN_REDIRECT_ATTEMPTS = [
  'https://evil.example/',
  '//evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/%2f%2fevil.example',
  '/%5cevil.example',
  '/%252f%252fevil.example',
  'javascript:alert(1)',
  '/.//evil.example',
  '/%09/evil.example',
  'http:evil.example',
];

export const GATE_CASES: GateCase[] = [
  {
    name: 'allowed: a licensed subject reaches the handler, which can read the decision',
    grants: ['pro'],
    gates: [{ kind: 'require', featureId: 'reports' }],
    expect: {
      status: 200,
      body: { ok: true, reasons: { reports: 'licensed' }, sources: { reports: 'backend' } },
    },
  },
  {
    name: 'not licensed: 403 not-licensed problem',
    grants: ['team'],
    gates: [{ kind: 'require', featureId: 'archive' }],
    expect: {
      status: 403,
      problemType: problem('not-licensed'),
      body: { status: 403, reason: 'not_licensed', featureId: 'archive' },
    },
  },
  {
    name: 'not licensed on the plan asked for: 403 with planId',
    grants: ['pro'],
    gates: [{ kind: 'require', featureId: 'reports', planId: 'team' }],
    expect: {
      status: 403,
      problemType: problem('not-licensed'),
      body: { planId: 'team', reason: 'not_licensed' },
    },
  },
  {
    name: 'expired: 403 expired problem',
    expired: ['monthly'],
    gates: [{ kind: 'require', featureId: 'archive' }],
    expect: {
      status: 403,
      problemType: problem('expired'),
      body: { reason: 'expired', featureId: 'archive' },
    },
  },
  {
    name: 'exhausted: 402 with remaining 0 and nothing charged',
    grants: ['pro'],
    available: { sms: 0 },
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    handler: { kind: 'respond', status: 200 },
    expect: {
      status: 402,
      problemType: problem('exhausted'),
      body: { reason: 'exhausted', featureId: 'sms', remaining: 0 },
      charged: { sms: 0 },
    },
  },
  {
    name: 'exhausted: a request larger than what is left is refused',
    grants: ['pro'],
    available: { sms: 2 },
    gates: [{ kind: 'meter', featureId: 'sms', amount: 3 }],
    expect: { status: 402, problemType: problem('exhausted'), charged: { sms: 0 } },
  },
  {
    name: 'unavailable, failMode closed: 503 with Retry-After',
    backend: 'down',
    failMode: 'closed',
    gates: [{ kind: 'require', featureId: 'reports' }],
    expect: {
      status: 503,
      problemType: problem('unavailable'),
      body: { reason: 'unavailable' },
      headers: { 'retry-after': /^\d+$/ },
    },
  },
  {
    name: 'unavailable, failMode open: the request goes through, the decision says it was a fallback',
    backend: 'down',
    failMode: 'open',
    gates: [{ kind: 'require', featureId: 'reports' }],
    expect: { status: 200, body: { ok: true, sources: { reports: 'fallback' } } },
  },
  {
    name: 'unavailable on a metered route, failMode closed: 503',
    backend: 'down',
    failMode: 'closed',
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    expect: { status: 503, problemType: problem('unavailable'), headers: { 'retry-after': /^\d+$/ } },
  },
  {
    name: 'no subject: 401 no-subject, the service is not asked',
    anonymous: true,
    gates: [{ kind: 'require', featureId: 'reports' }],
    expect: { status: 401, problemType: problem('no-subject'), body: { reason: 'no_subject' } },
  },
  {
    name: 'no subject on a metered route: 401, nothing charged',
    anonymous: true,
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    expect: { status: 401, problemType: problem('no-subject') },
  },
  {
    name: 'charge on success: a 2xx is charged and the headers report what is left',
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 2 }],
    handler: { kind: 'respond', status: 201 },
    expect: {
      status: 201,
      charged: { sms: 2 },
      remainingSeen: { sms: 8 },
      headers: { ratelimit: '"sms";r=8', 'tollgate-remaining': '"sms";r=8' },
    },
  },
  {
    name: 'decimal amounts are charged exactly',
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 'query' }],
    request: { query: '?amount=0.25' },
    expect: { status: 200, charged: { sms: 0.25 }, headers: { 'tollgate-remaining': '"sms";r=9.75' } },
  },
  {
    name: 'no charge on a 4xx',
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    handler: { kind: 'respond', status: 422 },
    expect: { status: 422, charged: { sms: 0 } },
  },
  {
    name: 'no charge on a 5xx',
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    handler: { kind: 'respond', status: 502 },
    expect: { status: 502, charged: { sms: 0 } },
  },
  {
    name: 'no charge when the handler throws',
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    handler: { kind: 'throw' },
    expect: { status: 500, charged: { sms: 0 } },
  },
  {
    name: 'no charge when the client disconnects before the response',
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    handler: { kind: 'hang' },
    request: { disconnect: true },
    expect: { status: null, charged: { sms: 0 } },
  },
  {
    name: "chargeOn 'always' charges a failed response",
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1, chargeOn: 'always' }],
    handler: { kind: 'respond', status: 500 },
    expect: { status: 500, charged: { sms: 1 } },
  },
  {
    name: "chargeOn 'always' does not charge a client that disconnected",
    grants: ['pro'],
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1, chargeOn: 'always' }],
    handler: { kind: 'hang' },
    request: { disconnect: true },
    expect: { status: null, charged: { sms: 0 } },
  },
  {
    name: 'composed meters: both are charged and both are reported',
    grants: ['pro'],
    gates: [
      { kind: 'require', featureId: 'reports' },
      { kind: 'meter', featureId: 'sms', amount: 2 },
      { kind: 'meter', featureId: 'mms', amount: 1 },
    ],
    expect: {
      status: 200,
      charged: { sms: 2, mms: 1 },
      remainingSeen: { sms: 8, mms: 4 },
      headers: { ratelimit: '"sms";r=8, "mms";r=4' },
    },
  },
  {
    name: 'composed meters: a later meter denied gives back the earlier reservation',
    grants: ['pro'],
    gates: [
      { kind: 'meter', featureId: 'sms', amount: 2 },
      { kind: 'meter', featureId: 'mms', amount: 6 },
    ],
    expect: {
      status: 402,
      problemType: problem('exhausted'),
      body: { featureId: 'mms' },
      charged: { sms: 0, mms: 0 },
    },
  },
  {
    // The denial must reach the earlier meter's settlement: with 'always', settling on the
    // 402's close instead would charge it.
    name: "composed meters: a later meter denied gives back an earlier chargeOn 'always' reservation",
    grants: ['pro'],
    gates: [
      { kind: 'meter', featureId: 'sms', amount: 2, chargeOn: 'always' },
      { kind: 'meter', featureId: 'mms', amount: 6 },
    ],
    expect: {
      status: 402,
      problemType: problem('exhausted'),
      body: { featureId: 'mms' },
      charged: { sms: 0, mms: 0 },
    },
  },
  {
    name: 'composed meters: no charge for either on a failed response',
    grants: ['pro'],
    gates: [
      { kind: 'meter', featureId: 'sms', amount: 2 },
      { kind: 'meter', featureId: 'mms', amount: 1 },
    ],
    handler: { kind: 'respond', status: 400 },
    expect: { status: 400, charged: { sms: 0, mms: 0 } },
  },
  ...['-1', '0', 'abc', 'Infinity', '', '1e-12'].map(
    (amount): GateCase => ({
      name: `bad amount ${JSON.stringify(amount)}: 400 invalid-amount, nothing charged`,
      grants: ['pro'],
      gates: [{ kind: 'meter', featureId: 'sms', amount: 'query' }],
      request: { query: `?amount=${encodeURIComponent(amount)}` },
      expect: {
        status: 400,
        problemType: problem('invalid-amount'),
        body: { reason: 'invalid_amount', featureId: 'sms' },
        charged: { sms: 0 },
      },
    }),
  ),
  {
    name: 'upsell: a browser is sent to the upgrade page with feature, plan and return_to',
    grants: ['pro'],
    gates: [{ kind: 'require', featureId: 'reports', planId: 'team' }],
    onDenied: 'upsell',
    request: { query: '?tab=2', accept: BROWSER },
    expect: {
      status: 303,
      headers: { location: '/pricing?feature=reports&plan=team&return_to=%2Fgated%3Ftab%3D2' },
    },
  },
  {
    name: 'upsell: an API client gets the problem document with upgradeUrl',
    grants: ['pro'],
    gates: [{ kind: 'require', featureId: 'reports', planId: 'team' }],
    onDenied: 'upsell',
    request: { accept: 'application/json' },
    expect: {
      status: 403,
      problemType: problem('not-licensed'),
      body: { upgradeUrl: '/pricing?feature=reports&plan=team' },
    },
  },
  {
    name: 'upsell: an exhausted browser user is redirected and nothing is charged',
    grants: ['pro'],
    available: { sms: 0 },
    gates: [{ kind: 'meter', featureId: 'sms', amount: 1 }],
    onDenied: 'upsell',
    request: { accept: BROWSER },
    expect: {
      status: 303,
      headers: { location: /^\/pricing\?feature=sms(&plan=pro)?&return_to=%2Fgated$/ },
      charged: { sms: 0 },
    },
  },
  ...OPEN_REDIRECT_ATTEMPTS.map(
    (attempt): GateCase => ({
      name: `upsell: return_to ${JSON.stringify(attempt)} is refused (no open redirect)`,
      gates: [{ kind: 'require', featureId: 'reports' }],
      onDenied: 'upsell-next',
      request: { query: `?next=${encodeURIComponent(attempt)}`, accept: BROWSER },
      expect: { status: 303, headers: { location: '/pricing?feature=reports' } },
    }),
  ),
  {
    name: 'upsell: a same-origin return_to is kept',
    gates: [{ kind: 'require', featureId: 'reports' }],
    onDenied: 'upsell-next',
    request: { query: `?next=${encodeURIComponent('/dashboard?x=1')}`, accept: BROWSER },
    expect: { status: 303, headers: { location: '/pricing?feature=reports&return_to=%2Fdashboard%3Fx%3D1' } },
  },
];
