/**
 * Headless Chromium for the upsell E2E test: Debian's `chromium` driven by playwright-core
 * (no browser download; `.ci/run` installs the package when it is missing). Lives in this
 * package because playwright-core is this package's dev dependency.
 */
import { type Browser, chromium } from 'playwright-core';

export type { Browser, BrowserContext, Page } from 'playwright-core';

/** Where Debian puts the browser; override with `CHROMIUM_PATH`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium with the flags a sandboxed CI machine needs (no sandbox, no
 * GPU, no background network traffic of its own).
 *
 * @example
 * const browser = await launchChromium();
 * const page = await browser.newPage();
 * await browser.close();
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
