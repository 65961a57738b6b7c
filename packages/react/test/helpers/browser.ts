/**
 * Real Chromium for the browser tests: the system one (/usr/bin/chromium), headless,
 * with a fresh temp profile. No skip: a missing binary fails the tests loudly.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

function checkChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need the system Chromium (apt-get install chromium)`);
  }
}

export async function launchChromium(userDataDir: string): Promise<BrowserContext> {
  checkChromium();
  // playwright refuses --user-data-dir in args: a persistent context is how it takes one.
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
}

/** The browser itself, for tests that need several contexts (each its own origin storage, as separate profiles). */
export async function launchBrowser(): Promise<Browser> {
  checkChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}
