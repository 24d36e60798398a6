import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../examples/upsell/src/demo.js';
import { ALICE_SMS } from '../examples/upsell/src/demo-users.js';
import {
  type Browser,
  type BrowserContext,
  launchChromium,
  type Page,
} from '../examples/upsell/test/chromium.js';

// The upsell flow as a user sees it, in a real headless Chromium against the real demo:
// the embedded service on a temporary data dir (the on-disk store `TOLLGATE_DATA_DIR`
// selects), the app on an ephemeral port.
/** Page changes go through the service over HTTP: give a busy CI machine time (not a timed assertion). */
const POLL = { timeout: 15_000 };

describe('upsell demo in Chromium', () => {
  let dataDir: string;
  let demo: RunningDemo;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tollgate-upsell-e2e-'));
    demo = await startDemo({ port: 0, dataDir, logger: { error: () => {} } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });

  afterEach(async () => {
    await context.close();
  });

  async function signInAs(name: string): Promise<void> {
    await page.goto(demo.url);
    await page.getByRole('link', { name: `Sign in as ${name}` }).click();
    await expect.poll(() => page.textContent('header'), POLL).toContain(`Signed in as ${name}`);
  }

  const pathOf = (p: Page) => {
    const url = new URL(p.url());
    return { path: url.pathname, query: Object.fromEntries(url.searchParams) };
  };

  it('a user without the feature is sent to /upgrade, starts a trial and is back on /reports, allowed', async () => {
    await signInAs('Carol');
    await page.goto(`${demo.url}/reports`);

    expect(pathOf(page)).toEqual({ path: '/upgrade', query: { feature: 'reports', return_to: '/reports' } });
    await expect.poll(() => page.textContent('main'), POLL).toContain('Your licences do not include reports');

    // Several plans may offer a trial; Pro is the one this test takes.
    await page.locator('li.plan[data-plan="pro"]').getByRole('button', { name: 'Start free trial' }).click();
    await page.waitForURL(`${demo.url}/reports`);

    expect(pathOf(page)).toEqual({ path: '/reports', query: {} });
    expect(await page.getByTestId('allowed').textContent()).toContain('You have access to reports');
    const licenses = await demo.tollgate.provider.getLicenses({ externalUserId: 'carol' });
    expect(licenses).toEqual([expect.objectContaining({ planId: 'pro', trial: true })]);
    expect(licenses[0]?.expiresAt).toBeInstanceOf(Date);
  });

  it('the metered action counts down, offers the upgrade when exhausted, and works again after a trial', async () => {
    await signInAs('Alice');
    await page.goto(`${demo.url}/sms`);
    expect(await page.getByTestId('remaining').textContent()).toBe(String(ALICE_SMS));

    for (let left = ALICE_SMS - 1; left >= 0; left--) {
      await page.getByRole('button', { name: 'Send SMS' }).click();
      // Same URL after every send (/sms?sent=1): wait for the new count, not for the URL.
      await expect.poll(() => page.getByTestId('remaining').textContent(), POLL).toBe(String(left));
      expect(page.url()).toBe(`${demo.url}/sms?sent=1`);
    }
    expect(await page.getByTestId('upgrade-offer').textContent()).toContain('used all your SMS');

    // One more: the meter gate refuses it and the browser lands on the upgrade page.
    await page.getByRole('button', { name: 'Send SMS' }).click();
    await page.waitForURL(/\/upgrade\?/);
    // `plan` names the plan whose allocation ran out (free): the offer still lists the others.
    expect(pathOf(page)).toMatchObject({ path: '/upgrade', query: { feature: 'sms', return_to: '/sms' } });
    const plans = await Promise.all(
      (await page.locator('li.plan').all()).map((li) => li.getAttribute('data-plan')),
    );
    expect(plans).toEqual(expect.arrayContaining(['free', 'pro', 'team']));
    expect(await page.textContent('main')).toContain('You have no sms left');
    expect(await page.locator('li.plan[data-plan="free"]').textContent()).toContain('Your current plan');
    // Nothing was charged beyond the allocation.
    const alice = { externalUserId: 'alice' };
    expect((await demo.tollgate.provider.getAllocation(alice, 'sms')).available).toBe(0);

    // A Pro trial brings SMS back at once: the next message goes through.
    await page.locator('li.plan[data-plan="pro"]').getByRole('button', { name: 'Start free trial' }).click();
    await page.waitForURL(`${demo.url}/sms`);
    const proSms = (await demo.tollgate.provider.getPlans?.({ featureId: 'sms' }))?.find(
      (p) => p.id === 'pro',
    )?.features.sms;
    expect(await page.getByTestId('remaining').textContent()).toBe(String(proSms));
    await page.getByRole('button', { name: 'Send SMS' }).click();
    await page.waitForURL(`${demo.url}/sms?sent=1`);
    expect(await page.getByTestId('remaining').textContent()).toBe(String(Number(proSms) - 1));
  });

  it('a signed-out visitor of a gated page is asked to sign in first, then lands on it', async () => {
    await page.goto(`${demo.url}/reports`);
    expect(pathOf(page)).toEqual({ path: '/', query: { return_to: '/reports' } });
    await page.getByRole('link', { name: 'Sign in as Bob' }).click();
    await page.waitForURL(`${demo.url}/reports`);
    expect(await page.getByTestId('allowed').textContent()).toContain('You have access to reports');
  });
});
