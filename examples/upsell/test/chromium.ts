/**
 * Headless Chromium for the upsell E2E test: Debian's `chromium` driven by playwright-core
 * (no browser download; `.ci/run` installs the package when it is missing). Lives in this
 * package because playwright-core is this package's dev dependency.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** playwright-core's types, re-exported for tests outside this package (they cannot resolve it). */
export type { Browser, BrowserContext, Page } from 'playwright-core';

/**
 * Where Debian puts the browser; override with the `CHROMIUM_PATH` environment variable.
 *
 * @example
 * CHROMIUM_PATH; // '/usr/bin/chromium'
 */
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
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium; .ci/run does it) or set CHROMIUM_PATH to a Chromium binary.`,
    );
  }
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
