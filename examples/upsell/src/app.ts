/**
 * The upsell demo app: pages gated on entitlements, and the upgrade page that turns a denial
 * into a licence (modelled on Licensario's licensing wizard, shared/seeds/licensario-js-wizard.md:
 * the user picks a plan among those that grant the features the page needs, the licence is
 * issued server-side, and the user lands back where they were).
 *
 * Routes:
 * - `GET /` demo users to sign in as; `GET /sign-in?user=…`, `GET /sign-out`
 * - `GET /reports` needs the `reports` feature; without it → 303 to `/upgrade`
 * - `GET /sms` shows the `sms` allocation left; `POST /sms` uses one unit (metered)
 * - `GET /upgrade?feature=…&plan=…&return_to=…` the plans that grant the feature
 * - `POST /upgrade` ensures the chosen licence (a trial for "Start free trial"), forgets the
 *   cached decisions and redirects to `return_to`
 */
import {
  ConfigurationError,
  type EntitlementProvider,
  type HttpError,
  hasErrorCode,
  type License,
  type Plan,
  safeReturnTo,
  type Tollgate,
} from '@tollgate/core';
import { createGates, upsellRedirect } from '@tollgate/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { type DemoUser, findDemoUser, subjectOf } from './demo-users.js';
import type { SafeHtml } from './html.js';
import { currentUser, signIn } from './session.js';
import { homePage, messagePage, type PlanOffer, reportsPage, smsPage, upgradePage } from './views.js';

/**
 * Where denied users are sent (with `feature`, `plan` and `return_to` in the query).
 *
 * @example
 * upsellRedirect({ to: UPGRADE_PATH });
 */
export const UPGRADE_PATH = '/upgrade';

/** Options of {@link createApp}. */
export interface UpsellAppOptions {
  /** The Tollgate the pages are gated with. Its provider must offer `getPlans` (the catalog). */
  tollgate: Tollgate;
  /** Where unexpected errors are reported. @default console */
  logger?: Pick<Console, 'error'>;
}

/** Input of `POST /upgrade`, from the upgrade page's form. */
const upgradeForm = z.object({
  plan: z.string().min(1).max(200),
  feature: z.string().min(1).max(200),
  mode: z.enum(['trial', 'buy']),
  return_to: z.string().max(2048).optional(),
});

/** Query of `GET /upgrade`, as the gates' upsell redirect builds it. */
const upgradeQuery = z.object({
  feature: z.string().min(1).max(200),
  plan: z.string().min(1).max(200).optional(),
  return_to: z.string().max(2048).optional(),
});

/**
 * Builds the upsell demo app (Express). It does not listen: call `app.listen(port)`, or
 * use `startDemo` for the whole demo on the embedded service.
 *
 * @example
 * const app = createApp({ tollgate });
 * app.listen(3000);
 */
export function createApp(options: UpsellAppOptions): express.Express {
  const { tollgate } = options;
  const logger = options.logger ?? console;
  const provider = tollgate.provider;
  if (typeof provider.getPlans !== 'function') {
    throw new ConfigurationError(
      'createApp() needs a provider that can read the plan catalog (getPlans): use licensarioProvider against a Tollgate service, or the server’s localProvider.',
    );
  }
  const getPlans: (query: { featureId: string }) => Promise<Plan[]> = provider.getPlans.bind(provider);

  const { requireFeature, meter } = createGates({
    tollgate,
    subject: (req) => {
      const user = currentUser(req);
      return user === undefined ? undefined : subjectOf(user);
    },
    onDenied: upsellRedirect({ to: UPGRADE_PATH }),
  });

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // Pages carry no script at all; forms may only post back here.
    res.set(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    next();
  });

  app.get('/', async (req, res) => {
    const user = currentUser(req);
    const licenses = user === undefined ? [] : await provider.getLicenses(subjectOf(user));
    send(res, 200, homePage({ user, licenses, returnTo: safeReturnTo(req.query.return_to) }));
  });

  app.get('/sign-in', (req, res) => {
    const user = typeof req.query.user === 'string' ? findDemoUser(req.query.user) : undefined;
    if (user === undefined) {
      send(
        res,
        400,
        messagePage({ user: currentUser(req), title: 'Unknown user', text: 'Pick one of the demo users.' }),
      );
      return;
    }
    signIn(res, user);
    res.redirect(303, safeReturnTo(req.query.return_to) ?? '/');
  });

  app.get('/sign-out', (_req, res) => {
    signIn(res, undefined);
    res.redirect(303, '/');
  });

  app.get('/reports', requireSignIn, requireFeature('reports'), (req, res) => {
    send(res, 200, reportsPage({ user: signedIn(req), planId: req.tollgate?.decision.planId }));
  });

  app.get('/sms', requireSignIn, async (req, res) => {
    // Straight from the service, not the decision cache: this page shows the true balance.
    const allocation = await provider.getAllocation(subjectOf(signedIn(req)), 'sms');
    send(
      res,
      200,
      smsPage({ user: signedIn(req), available: allocation.available, sent: req.query.sent === '1' }),
    );
  });

  app.post('/sms', requireSignIn, meter('sms', 1), (_req, res) => {
    // Sending the message would happen here; the gate charges it once this answers < 400.
    res.redirect(303, '/sms?sent=1');
  });

  app.get(UPGRADE_PATH, async (req, res) => {
    const query = upgradeQuery.safeParse(req.query);
    if (!query.success) {
      send(
        res,
        400,
        messagePage({
          user: currentUser(req),
          title: 'Nothing to upgrade',
          text: 'Open a gated page first.',
        }),
      );
      return;
    }
    const { feature, plan } = query.data;
    const user = currentUser(req);
    const offers = await offersFor(provider, getPlans, user, feature, plan);
    send(
      res,
      200,
      upgradePage({ user, featureId: feature, offers, returnTo: safeReturnTo(query.data.return_to) }),
    );
  });

  app.post(
    UPGRADE_PATH,
    express.urlencoded({ extended: false, limit: '4kb' }),
    requireSignIn,
    async (req, res) => {
      const form = upgradeForm.safeParse(req.body);
      if (!form.success) {
        send(
          res,
          400,
          messagePage({
            user: signedIn(req),
            title: 'Bad request',
            text: 'Choose a plan on the upgrade page.',
          }),
        );
        return;
      }
      const { plan: planId, feature, mode } = form.data;
      const returnTo = safeReturnTo(form.data.return_to);
      const user = signedIn(req);
      const subject = subjectOf(user);
      // Only plans that grant the feature are offered; anything else in the form was not.
      const plans = await getPlans({ featureId: feature });
      if (!plans.some((p) => p.id === planId)) {
        send(
          res,
          400,
          messagePage({ user, title: 'Unknown plan', text: `No plan "${planId}" grants ${feature}.` }),
        );
        return;
      }
      try {
        await provider.ensureLicense(subject, planId, mode === 'trial' ? { trial: true } : {});
      } catch (error) {
        const code = serviceCodeOf(error);
        if (code !== 'trial_used' && code !== 'no_trial') throw error;
        const offers = (await offersFor(provider, getPlans, user, feature, undefined)).map((offer) =>
          offer.plan.id === planId ? { ...offer, trialAvailable: false } : offer,
        );
        const message =
          code === 'trial_used'
            ? 'You have already had a free trial of this plan. Choose the plan to keep using it.'
            : 'This plan has no free trial. Choose the plan instead.';
        send(res, 409, upgradePage({ user, featureId: feature, offers, returnTo, message }));
        return;
      }
      // The cached "no" must not outlive the upgrade: the user is allowed at once on return.
      tollgate.invalidate(subject);
      res.redirect(303, returnTo ?? '/');
    },
  );

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error(error);
    const unavailable = hasErrorCode(error, 'TOLLGATE_UNAVAILABLE');
    send(
      res,
      unavailable ? 503 : 500,
      messagePage({
        user: currentUser(req),
        title: unavailable ? 'Service unavailable' : 'Something went wrong',
        text: unavailable
          ? 'The entitlement service did not answer. Try again in a moment.'
          : 'The request failed; the details are in the server log.',
      }),
    );
  });

  return app;
}

/** Signed-out visitors of a page that needs a user go to the home page to pick one. */
function requireSignIn(req: Request, res: Response, next: NextFunction): void {
  if (currentUser(req) !== undefined) {
    next();
    return;
  }
  const back = req.method === 'GET' ? req.originalUrl : '/';
  res.redirect(303, `/?${new URLSearchParams({ return_to: back })}`);
}

/** The signed-in user on a route behind {@link requireSignIn}. */
function signedIn(req: Request): DemoUser {
  const user = currentUser(req);
  if (user === undefined) throw new Error('signedIn() used on a route without requireSignIn');
  return user;
}

/** The service's error code (`trial_used`, …) when the service refused the call. */
function serviceCodeOf(error: unknown): string | undefined {
  return hasErrorCode(error, 'TOLLGATE_HTTP') ? (error as HttpError).serviceCode : undefined;
}

function send(res: Response, status: number, page: SafeHtml): void {
  res.status(status).type('html').send(page.toString());
}

/**
 * The plans granting `featureId`, marked with what the user already holds and whether a trial
 * is still open to them. `planId` comes from the denial: the plan a gate required
 * (`requireFeature('reports', 'team')`), or the plan whose allocation ran out. Only the
 * first kind narrows the offer: a plan the user already holds is never the only way out.
 */
async function offersFor(
  provider: EntitlementProvider,
  getPlans: (query: { featureId: string }) => Promise<Plan[]>,
  user: DemoUser | undefined,
  featureId: string,
  planId: string | undefined,
): Promise<PlanOffer[]> {
  const granting = await getPlans({ featureId });
  // Expired licences are listed too: they tell us which trials were already used.
  const licenses: License[] = user === undefined ? [] : await provider.getLicenses(subjectOf(user));
  const now = Date.now();
  const holds = (id: string) =>
    licenses.some((l) => l.planId === id && (l.expiresAt === null || l.expiresAt.getTime() > now));
  const plans =
    planId !== undefined && !holds(planId) && granting.some((p) => p.id === planId)
      ? granting.filter((p) => p.id === planId)
      : granting;
  return plans.map((plan) => ({
    plan,
    current: holds(plan.id),
    trialAvailable: plan.trialDays !== undefined && !licenses.some((l) => l.planId === plan.id && l.trial),
  }));
}
