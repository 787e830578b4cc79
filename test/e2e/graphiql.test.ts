import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../platform/platform.ts';
import { GRAPHIQL_DEFAULT_QUERY } from '../../router/src/graphiql.ts';
import { chromiumArgs, chromiumPath, requireChromium } from '../support/chromium.ts';
import { startTestPlatform } from '../support/platform.ts';

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The README's first `<!-- example: ... -->` GraphQL block. */
async function firstReadmeExample(): Promise<string> {
  const readme = await readFile(readmePath, 'utf8');
  const match = /<!-- example: [\w-]+ -->\s*```graphql\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README.md has no example block');
  return match[1]!;
}

describe('GraphiQL without the internet', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  /** Requests of the page to anything but the loopback address: each one is refused. */
  const outside: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    requireChromium('the GraphiQL test');
    platform = await startTestPlatform();
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    // No route out: the page may reach the router on 127.0.0.1 and nothing else.
    await context.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1') return route.continue();
      outside.push(route.request().url());
      return route.abort('internetdisconnected');
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
  });

  it("opens with the README's first example and says how to sign in", async () => {
    const example = await firstReadmeExample();
    expect(example).toMatch(/^query CityOverview \{/);
    expect(GRAPHIQL_DEFAULT_QUERY).toContain(example);
    expect(GRAPHIQL_DEFAULT_QUERY).toMatch(/^# .*\n#\s+\{"authorization": "Bearer <token from npm start>"\}/);
  });

  it('serves a page that references no other origin', async () => {
    const response = await fetch(platform.routerUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('CityOverview');
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);
    // Nothing the browser would load by itself: scripts, styles, icons, frames.
    expect(html.match(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//gi) ?? []).toEqual([]);
  });

  it('renders the editor with the example query, and runs it, with every other host unreachable', async () => {
    await page.goto(platform.routerUrl);
    await expect.poll(() => page.locator('.graphiql-container').first().isVisible(), { timeout: 20_000 }).toBe(true);
    const editor = page.locator('.graphiql-query-editor');
    await expect.poll(async () => (await editor.innerText()).replace(/\s+/g, ' '), { timeout: 20_000 }).toContain('query CityOverview {');
    expect((await editor.innerText()).replace(/\s+/g, ' ')).toContain('Bearer <token from npm start>');

    // Anonymous: the open data answers, the gateway is refused.
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => page.locator('.graphiql-response').innerText(), { timeout: 20_000 }).toContain('parkingLots');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'graphiql.png') });
    expect(outside).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
