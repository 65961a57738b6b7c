/**
 * Real Chromium for the browser tests: the system one (/usr/bin/chromium), headless,
 * with a fresh temp profile. No skip: a missing binary fails the tests loudly.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(userDataDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need the system Chromium (apt-get install chromium)`);
  }
  // playwright refuses --user-data-dir in args: a persistent context is how it takes one.
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
