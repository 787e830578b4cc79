import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '#telemetry';
import { dashboardHandler } from '../dashboard/handler.ts';
import type { Platform } from '../platform/platform.ts';
import { adminToken } from './support/auth.ts';
import { graphql } from './support/graphql.ts';
import { startTestPlatform } from './support/platform.ts';

const chromiumPath = '/usr/bin/chromium';
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
type Quantity = Reading['quantity'];
const gatewayId = 'austin-gw01';

/**
 * A TCP relay to the router that can drop every connection and refuse new ones for a while: a
 * network outage as the browser sees it.
 */
async function startOutageProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createTcpServer((client) => {
    if (down) return client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
      a.on('error', () => b.destroy());
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    /** Drops every connection and refuses new ones for `ms`. */
    outage(ms: number) {
      down = true;
      for (const socket of sockets) socket.destroy();
      setTimeout(() => (down = false), ms);
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Six hours (what the in-memory store keeps) of plausible history in the store, not on the live
 * bus, so the charts show more than the minute the platform has been up.
 */
async function seedDayOfHistory(platform: Platform, token: string) {
  const { data } = await graphql<{ gateway: { tenant: string; sensors: Array<{ id: string; quantity: Quantity }> }; intersections: Array<{ counters: Array<{ id: string; quantity: Quantity }> }> }>(
    platform.routerUrl,
    `{ gateway(id: "${gatewayId}") { tenant sensors { id quantity } } intersections { counters { id quantity } } }`,
    undefined,
    { token },
  );
  const counters = data!.intersections.flatMap((i) => i.counters);
  const now = Date.now();
  const readings: Reading[] = [];
  for (let time = now - 6 * 3600_000; time < now - 60_000; time += 300_000) {
    const hour = new Date(time).getUTCHours() + new Date(time).getUTCMinutes() / 60;
    const busy = Math.max(0, Math.sin(((hour - 6) / 14) * Math.PI)); // 0 at night, 1 mid-afternoon
    data!.gateway.sensors.forEach(({ id, quantity }, i) => {
      const jitter = Math.sin(time / 7e5 + i) * 0.5 + 0.5;
      const value = quantity === 'CO2' ? 420 + busy * (300 + 25 * (i % 7)) + 20 * jitter : quantity === 'TEMPERATURE' ? 20 + busy * 2.5 + jitter * 0.4 : 40 + busy * 8 + jitter * 2;
      readings.push({ sensorId: id, gatewayId, tenant: data!.gateway.tenant, quantity, time, value: Math.round(value * 10) / 10 });
    });
    for (const { id, quantity } of counters) {
      const value = Math.round((quantity === 'VEHICLE_COUNT' ? 40 : 15) * busy + 2);
      readings.push({ sensorId: id, gatewayId: id.split('.')[0]!, tenant: 'pisek-city', quantity, time, value });
    }
  }
  await platform.store.write(readings);
}

describe('the live city dashboard in a browser', () => {
  let platform: Platform;
  let base: string;
  let proxy: Awaited<ReturnType<typeof startOutageProxy>>;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  /** Uncaught errors, console errors and warnings of the page (a dropped connection logs some, later). */
  const pageErrors: string[] = [];
  /** Every reading of the gateway the collector published, as `<sensorId>@<epoch ms>`. */
  const published: string[] = [];

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`${chromiumPath} is missing: install Debian's chromium package (apt-get install chromium) to run the dashboard test`);
    }
    platform = await startTestPlatform({ pollIntervalMs: 300, httpHandlers: [dashboardHandler()] });
    platform.bus.subscribe((readings) => {
      for (const r of readings) if (r.gatewayId === gatewayId) published.push(`${r.sensorId}@${r.time}`);
    });
    // The page is an operator's: it shows an Austin gateway and the Pisek crossing and car parks.
    const admin = await adminToken();
    await seedDayOfHistory(platform, admin);
    proxy = await startOutageProxy(platform.router.port);
    // The router serves the page at / and the API at /graphql; the browser reaches both through
    // the proxy, so an outage cuts the page off as a network drop would.
    base = `http://127.0.0.1:${proxy.port}`;

    userDataDir = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
    // A fresh profile each run; without the background-networking flags Chromium keeps dialling
    // Google's hosts, which this sandbox refuses.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1800 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') pageErrors.push(`console.${message.type()}: ${message.text()}`);
    });
    await page.goto(`${base}/#token=${admin}`);
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await proxy?.close();
    await platform?.close();
  });

  const receivedCount = async () => Number(await page.locator('#received').textContent());

  it('serves the page, its scripts and the vendored libraries, and nothing else', async () => {
    for (const path of ['/', '/dashboard/app.js', '/dashboard/vendor/uplot/uPlot.esm.js', '/dashboard/vendor/graphql-ws/client.js']) {
      const response = await fetch(base + path);
      expect(response.status, path).toBe(200);
    }
    expect((await fetch(`${base}/dashboard/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${base}/dashboard/vendor/uplot/uPlot.cjs.js`)).status).toBe(404);
    // What is not the dashboard's is left to the router.
    const api = await fetch(`${base}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json' } });
    expect(await api.json()).toEqual({ data: { __typename: 'Query' } });
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('loads, goes live and draws the IQRF mesh of austin-gw01 as a tree of 40 nodes', async () => {
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');
    await expect.poll(() => page.locator('#mesh .mesh-node:not([data-role="COORDINATOR"])').count(), { timeout: 15_000 }).toBe(40);
    expect(await page.locator('#mesh .mesh-node[data-role="COORDINATOR"]').count()).toBe(1);
    expect(await page.locator('#mesh .mesh-node[data-role="SENSOR"]').count()).toBe(20);
    expect(await page.locator('#mesh .edge').count()).toBe(40);
    await expect.poll(() => page.locator('#gateways li').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('#gateways li[data-gateway="austin-gw01"] .badge').textContent()).toBe('online');
    await expect.poll(() => page.locator('#parking .lot').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#intersection-name').textContent()).toBe('Kollarova x Zizkova');
    // uPlot drew the three room charts and the traffic chart.
    expect(await page.locator('.chart canvas').count()).toBe(4);
    expect(await page.locator('#rooms tbody tr').count()).toBe(20);
    expect(pageErrors).toEqual([]);
  });

  it('shows values that keep changing on screen while readings keep arriving', async () => {
    await expect.poll(() => page.locator('#last-reading').textContent(), { timeout: 15_000 }).not.toBe('—');
    const firstText = await page.locator('#last-reading').textContent();
    const firstCount = await receivedCount();
    await page.waitForTimeout(3_000);
    const secondText = await page.locator('#last-reading').textContent();
    const secondCount = await receivedCount();
    expect(secondText).not.toBe(firstText);
    // 60 sensors polled every 300 ms: far more than this in 3 s unless the stream stalled.
    expect(secondCount - firstCount).toBeGreaterThan(60);

    mkdirSync(artifacts, { recursive: true });
    await page.waitForTimeout(1_500); // let the charts redraw with live buckets
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  });

  it('says so while the connection is down, and resumes with its cursor so no reading is lost', async () => {
    await expect.poll(() => page.locator('#connection').textContent()).toBe('live');
    proxy.outage(2_000);
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 5_000, interval: 50 }).toBe('reconnecting…');
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');
    const afterReconnect = await receivedCount();
    await expect.poll(receivedCount, { timeout: 10_000 }).toBeGreaterThan(afterReconnect + 120);

    const times = await page.evaluate(() => {
      const { received } = (window as unknown as { dashboard: { received: { times: Map<string, string[]> } } }).dashboard;
      return Object.fromEntries(received.times);
    });
    const onPage = Object.entries(times).flatMap(([id, list]) => list.map((time) => `${id}@${Date.parse(time)}`));
    expect(new Set(onPage).size, 'a reading shown twice').toBe(onPage.length);
    // Every reading published from the page's first to its last one reached it, outage included.
    const seen = new Set(onPage);
    const first = published.findIndex((key) => seen.has(key));
    const last = published.findLastIndex((key) => seen.has(key));
    expect(first).toBeGreaterThanOrEqual(0);
    const missed = published.slice(first, last + 1).filter((key) => !seen.has(key));
    expect(missed).toEqual([]);
    expect(last - first + 1).toBeGreaterThan(600);
  });
});
