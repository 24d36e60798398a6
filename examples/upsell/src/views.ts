/**
 * The pages of the upsell demo. Each function returns a whole document; every dynamic value
 * goes through `html`, which escapes it.
 */
import type { License, Plan } from '@tollgate/core';
import type { DemoUser } from './demo-users.js';
import { DEMO_USERS } from './demo-users.js';
import { html, type SafeHtml } from './html.js';

const STYLE = html`<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
  header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #ddd; margin-bottom: 1.5rem; }
  nav a { margin-right: 1rem; }
  .plans { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); padding: 0; }
  .plan { list-style: none; border: 1px solid #ccc; border-radius: .5rem; padding: 1rem; }
  .notice { background: #fff6d6; border: 1px solid #e8cf73; border-radius: .5rem; padding: .75rem 1rem; }
  .ok { background: #e5f6e8; border-color: #8ccf98; }
  button { font: inherit; padding: .4rem .9rem; margin: .25rem .25rem 0 0; cursor: pointer; }
</style>`;

/** Options of {@link layout}. */
export interface LayoutOptions {
  title: string;
  user: DemoUser | undefined;
  body: SafeHtml;
}

/**
 * The page frame: title, navigation, who is signed in.
 *
 * @example
 * layout({ title: 'Home', user: undefined, body: html`<p>Hi</p>` }).toString();
 */
export function layout({ title, user, body }: LayoutOptions): SafeHtml {
  const who = user
    ? html`Signed in as <strong>${user.name}</strong> · <a href="/sign-out">Sign out</a>`
    : html`Not signed in`;
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Tollgate upsell demo</title>${STYLE}</head>
<body>
<header><nav><a href="/">Home</a><a href="/reports">Reports</a><a href="/sms">SMS</a></nav><p>${who}</p></header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/**
 * Words for a plan's features.
 *
 * @example
 * describeFeatures({ id: 'pro', name: 'Pro', features: { reports: true, sms: 1000 } }); // 'reports, 1000 sms'
 */
export function describeFeatures(plan: Plan): string {
  return Object.entries(plan.features)
    .map(([id, value]) => (value === true ? id : `${value} ${id}`))
    .join(', ');
}

/** Input of {@link homePage}. */
export interface HomePageInput {
  user: DemoUser | undefined;
  licenses: readonly License[];
  /** Where signing in leads (a page that sent a signed-out visitor here); already validated. */
  returnTo?: string | undefined;
}

/**
 * The home page: the demo users to sign in as, and what the signed-in user holds.
 *
 * @example
 * homePage({ user: undefined, licenses: [] });
 */
export function homePage({ user, licenses, returnTo }: HomePageInput): SafeHtml {
  const users = DEMO_USERS.map((u) => {
    const query = new URLSearchParams({
      user: u.id,
      ...(returnTo === undefined ? {} : { return_to: returnTo }),
    });
    return html`<li><a href="/sign-in?${query.toString()}">Sign in as ${u.name}</a> — ${u.blurb}</li>`;
  });
  const signInFirst =
    returnTo === undefined
      ? ''
      : html`<p class="notice">Sign in as one of the demo users to open ${returnTo}.</p>`;
  const holdings =
    user === undefined
      ? html``
      : html`<h2>${user.name}'s licences</h2>${
          licenses.length === 0
            ? html`<p>None yet.</p>`
            : html`<ul>${licenses.map(
                (l) =>
                  html`<li>${l.planId}${l.trial ? ' (trial)' : ''}${
                    l.expiresAt ? html`, expires ${l.expiresAt.toISOString().slice(0, 10)}` : ''
                  }</li>`,
              )}</ul>`
        }`;
  return layout({
    title: 'Tollgate upsell demo',
    user,
    body: html`${signInFirst}<p>This app gates its pages on entitlements held by the embedded Tollgate service.
Sign in as one of the demo users, then open <a href="/reports">Reports</a> (needs the <code>reports</code> feature)
or <a href="/sms">SMS</a> (metered: each message uses one unit of <code>sms</code>).</p>
<h2>Demo users</h2>
<ul>${users}</ul>
${holdings}`,
  });
}

/**
 * The gated page itself: only users holding `reports` ever see it.
 *
 * @example
 * reportsPage({ user, planId: 'pro' });
 */
export function reportsPage({ user, planId }: { user: DemoUser; planId: string | undefined }): SafeHtml {
  return layout({
    title: 'Reports',
    user,
    body: html`<p class="notice ok" data-testid="allowed">You have access to reports${
      planId ? html` through your <strong>${planId}</strong> plan` : ''
    }.</p>
<table><tr><th>Month</th><th>Signups</th></tr><tr><td>October</td><td>128</td></tr><tr><td>November</td><td>173</td></tr></table>`,
  });
}

/** One plan as the upgrade page shows it. */
export interface PlanOffer {
  plan: Plan;
  /** The user already holds an active licence of this plan. */
  current: boolean;
  /** A trial button is offered (the plan has trials and the user has not had one). */
  trialAvailable: boolean;
}

/** Input of {@link upgradePage}. */
export interface UpgradePageInput {
  user: DemoUser | undefined;
  featureId: string;
  offers: readonly PlanOffer[];
  /** Already validated with `safeReturnTo`. */
  returnTo: string | undefined;
  message?: string | undefined;
}

/**
 * The upgrade page: the plans that grant the feature, each with "Start free trial" (when the
 * plan has trials) and "Choose plan" buttons posting to `/upgrade`.
 *
 * @example
 * upgradePage({ user, featureId: 'reports', offers, returnTo: '/reports' });
 */
export function upgradePage({ user, featureId, offers, returnTo, message }: UpgradePageInput): SafeHtml {
  const metered = offers.some((o) => typeof o.plan.features[featureId] === 'number');
  const signInFirst =
    user === undefined ? html`<p class="notice">Sign in on the <a href="/">home page</a> first.</p>` : '';
  const list =
    offers.length === 0
      ? html`<p>No plan in the catalog grants <code>${featureId}</code>.</p>`
      : html`<ul class="plans">${offers.map(({ plan, current, trialAvailable }) => {
          const actions = current
            ? html`<p><em>Your current plan.</em></p>`
            : html`<form method="post" action="/upgrade">
<input type="hidden" name="plan" value="${plan.id}"><input type="hidden" name="feature" value="${featureId}">
${returnTo === undefined ? '' : html`<input type="hidden" name="return_to" value="${returnTo}">`}
${trialAvailable ? html`<button type="submit" name="mode" value="trial">Start free trial</button>` : ''}
<button type="submit" name="mode" value="buy">Choose plan</button>
</form>`;
          return html`<li class="plan" data-plan="${plan.id}"><h2>${plan.name}</h2>
<p>${describeFeatures(plan)}</p>
${plan.trialDays === undefined ? '' : html`<p>${plan.trialDays}-day free trial</p>`}
${actions}</li>`;
        })}</ul>`;
  return layout({
    title: 'Upgrade',
    user,
    body: html`${message === undefined ? '' : html`<p class="notice">${message}</p>`}${signInFirst}
${
  metered
    ? html`<p>You have no <strong>${featureId}</strong> left. These plans include more:</p>`
    : html`<p>Your licences do not include <strong>${featureId}</strong>. These plans do:</p>`
}
${list}
${returnTo === undefined ? '' : html`<p><a href="${returnTo}">Back</a></p>`}`,
  });
}

/** Input of {@link smsPage}. */
export interface SmsPageInput {
  user: DemoUser;
  /** Units of `sms` left, summed over the user's active licences. */
  available: number;
  sent: boolean;
}

/**
 * The metered action: how many SMS are left, a "Send SMS" button, and the upgrade offer once
 * none are left. The button stays when none are left: pressing it goes through the `meter`
 * gate, which answers "exhausted" by redirecting to the upgrade page.
 *
 * @example
 * smsPage({ user, available: 3, sent: false });
 */
export function smsPage({ user, available, sent }: SmsPageInput): SafeHtml {
  const upgrade = `/upgrade?${new URLSearchParams({ feature: 'sms', return_to: '/sms' })}`;
  return layout({
    title: 'SMS',
    user,
    body: html`${sent ? html`<p class="notice ok">Message sent.</p>` : ''}
<p>You have <strong data-testid="remaining">${available}</strong> SMS left.</p>
<form method="post" action="/sms"><button type="submit">Send SMS</button></form>
${
  available > 0
    ? ''
    : html`<p class="notice" data-testid="upgrade-offer">You have used all your SMS. <a href="${upgrade}">Upgrade to send more</a>.</p>`
}`,
  });
}

/**
 * A page for a sign-in that is needed, or an error the user can act on.
 *
 * @example
 * messagePage({ user: undefined, title: 'Sign in first', text: 'Pick a demo user.' });
 */
export function messagePage({
  user,
  title,
  text,
}: {
  user: DemoUser | undefined;
  title: string;
  text: string;
}): SafeHtml {
  return layout({ title, user, body: html`<p>${text}</p><p><a href="/">Home</a></p>` });
}
