import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium package: what the browser tests drive (the test command installs it). */
export const chromiumPath = '/usr/bin/chromium';

/**
 * Headless, and quiet: without the background-networking flags Chromium keeps dialling Google's
 * hosts, which a test machine may refuse.
 */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Throws, saying what to install, when Chromium is missing (`what`: the test that needs it). */
export function requireChromium(what: string): void {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: install Debian's chromium package (apt-get install chromium) to run ${what}`);
  }
}

/** A browser with a fresh profile of its own, removed again by `close`. */
export async function launchChromiumProfile(
  name: string,
  viewport = { width: 1400, height: 1800 },
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  requireChromium(`the ${name} test`);
  const userDataDir = mkdtempSync(join(tmpdir(), `${name}-chromium-`));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: chromiumPath, args: chromiumArgs, viewport });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
