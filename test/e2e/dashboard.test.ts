import { mkdirSync } from 'node:fs';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '#auth';
import type { Reading } from '#telemetry';
import { dashboardHandler } from '../../dashboard/handler.ts';
import type { Platform } from '../../platform/platform.ts';
import { adminToken, tokenFor } from '../support/auth.ts';
import { graphql } from '../support/graphql.ts';
import { launchChromiumProfile } from '../support/chromium.ts';
import { startTestPlatform } from '../support/platform.ts';

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
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
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
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
  const { data } = await graphql<{
    gateway: { tenant: string; sensors: Array<{ id: string; quantity: Quantity }> };
    intersections: Array<{ counters: Array<{ id: string; quantity: Quantity }> }>;
  }>(
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
      const value =
        quantity === 'CO2'
          ? 420 + busy * (300 + 25 * (i % 7)) + 20 * jitter
          : quantity === 'TEMPERATURE'
            ? 20 + busy * 2.5 + jitter * 0.4
            : 40 + busy * 8 + jitter * 2;
      readings.push({ sensorId: id, gatewayId, tenant: data!.gateway.tenant, quantity, time, value: Math.round(value * 10) / 10 });
    });
    for (const { id, quantity } of counters) {
      const value = Math.round((quantity === 'VEHICLE_COUNT' ? 40 : 15) * busy + 2);
      readings.push({ sensorId: id, gatewayId: id.split('.')[0]!, tenant: 'pisek-city', quantity, time, value });
    }
  }
  await platform.store.write(readings);
}

let context: BrowserContext;
let browser: Awaited<ReturnType<typeof launchChromiumProfile>> | undefined;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchChromiumProfile('dashboard');
  context = browser.context;
});

afterAll(async () => {
  await browser?.close();
});

interface DashboardPage {
  page: Page;
  /** Uncaught errors, console errors and warnings of the page. */
  errors: string[];
  /** The headers of every request the page sent to /graphql. */
  apiHeaders: Array<Record<string, string>>;
}

/** A new tab (its own session storage, so its own credentials) on `url`, its errors collected. */
async function openDashboard(url: string, viewport = { width: 1400, height: 1800 }): Promise<DashboardPage> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  const opened: DashboardPage = { page, errors: [], apiHeaders: [] };
  page.on('pageerror', (error) => opened.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') opened.errors.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/graphql') opened.apiHeaders.push(request.headers());
  });
  await page.goto(url);
  return opened;
}

/** Waits until the text of `selector` is something other than a placeholder, then until it changes: a value that arrived, then another. */
async function expectLiveText(page: Page, selector: string, timeout = 20_000): Promise<void> {
  const text = () => page.locator(selector).first().textContent();
  await expect.poll(text, { timeout, message: `${selector} shows a value` }).toMatch(/\d/);
  const first = await text();
  await expect.poll(text, { timeout, message: `${selector} changes` }).not.toBe(first);
}

/** Which of the dashboard's panels are on screen. */
async function visiblePanels(page: Page): Promise<string[]> {
  const panels = ['rooms-panel', 'traffic-panel', 'parking-panel', 'gateways-panel', 'mesh-panel', 'problem'];
  const shown = await Promise.all(panels.map((id) => page.locator(`#${id}`).isVisible()));
  return panels.filter((_, i) => shown[i]);
}

/** The texts of the room column of the "now, per room" table, in order. */
const roomNames = (page: Page) =>
  page.locator('#rooms tbody tr').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.room ?? ''));

/** Traffic and parking show readings that keep arriving. */
async function expectOpenDataLive(page: Page): Promise<void> {
  await expectLiveText(page, '#parking-last');
  await expectLiveText(page, '#traffic-last');
  await expect.poll(() => page.locator('#parking .lot .numbers').first().textContent()).toMatch(/^\d+ of \d+ taken/);
  expect(await page.locator('#chart-traffic canvas').count()).toBe(1);
}

/** The rooms panel shows values of every room, and the latest reading keeps changing. */
async function expectRoomsLive(page: Page, rooms: number): Promise<void> {
  await expect.poll(() => page.locator('#rooms tbody tr').count(), { timeout: 20_000 }).toBe(rooms);
  await expectLiveText(page, '#last-reading');
  // Every room got a value of each quantity, written with its unit and rounded.
  await expect
    .poll(
      () =>
        page
          .locator('#rooms tbody td[data-quantity]')
          .evaluateAll((cells) => cells.filter((c) => !/^\d+ ppm$|^-?\d+\.\d °C$|^\d+ %$/.test(c.textContent ?? '')).length),
      { timeout: 20_000 },
    )
    .toBe(0);
  for (const at of await page.locator('#rooms tbody td.at').allTextContents()) expect(at).toMatch(/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/);
}

/** No element sticks out to the right of the viewport, and the page does not scroll sideways. */
async function horizontalOverflow(page: Page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const outside = [...document.querySelectorAll('header, main > section, section > *, #parking .lot, #gateways li')]
      .filter((element) => (element as HTMLElement).offsetParent !== null && element.getBoundingClientRect().right > width + 0.5)
      .map((element) => `${element.tagName.toLowerCase()}#${element.id}.${element.className}`);
    return { scrollWidth: document.documentElement.scrollWidth, width, outside };
  });
}

/**
 * The labels of the IQRF mesh drawn in `selector`: each inside the drawing, of a legible size,
 * none over another.
 */
async function meshLegibility(page: Page, selector = '#mesh') {
  return page.evaluate((selector) => {
    const drawing = document.querySelector(`${selector} svg`)!;
    const frame = drawing.getBoundingClientRect();
    const labels = [...drawing.querySelectorAll('.mesh-node text')].map((t) => ({
      text: t.textContent ?? '',
      box: t.getBoundingClientRect(),
    }));
    const outside = labels
      .filter(
        ({ box }) =>
          box.left < frame.left - 0.5 || box.right > frame.right + 0.5 || box.top < frame.top - 0.5 || box.bottom > frame.bottom + 0.5,
      )
      .map((l) => l.text);
    const heights = labels.map(({ box }) => box.height);
    const overlapping: string[] = [];
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++) {
        const a = labels[i]!.box;
        const b = labels[j]!.box;
        // Glyph boxes include line spacing: 2 px of it may touch.
        if (a.left < b.right - 2 && b.left < a.right - 2 && a.top < b.bottom - 2 && b.top < a.bottom - 2)
          overlapping.push(`${labels[i]!.text} / ${labels[j]!.text}`);
      }
    return {
      count: labels.length,
      texts: labels.map((l) => l.text),
      outside,
      overlapping,
      minHeight: Math.min(...heights),
      maxHeight: Math.max(...heights),
    };
  }, selector);
}

/** The tick labels uPlot drew on each chart's axes, the width it gave the value axis, and what the widest label needs. */
async function chartAxes(page: Page, source: 'dashboard' | 'probes' = 'dashboard') {
  return page.evaluate((source) => {
    type Axis = { _values?: string[]; _size?: number; font?: [string, number] };
    type Chart = { plot: { axes: Axis[]; data: unknown[][]; scales: { y: { min: number; max: number } } } };
    const page = window as unknown as { dashboard: { charts: () => Record<string, Chart> }; probes?: Record<string, Chart> };
    const charts = source === 'dashboard' ? page.dashboard.charts() : (page.probes ?? {});
    const context = document.createElement('canvas').getContext('2d')!;
    return Object.fromEntries(
      Object.entries(charts).map(([name, { plot }]) => {
        const [x, y] = plot.axes as [Axis, Axis];
        context.font = y.font?.[0] ?? '12px sans-serif';
        const ratio = devicePixelRatio;
        const widest = Math.max(...(y._values ?? []).map((label) => context.measureText(label).width / ratio));
        return [
          name,
          {
            points: plot.data[0]?.length ?? 0,
            times: x._values ?? [],
            values: y._values ?? [],
            axisWidth: y._size ?? 0,
            widest,
            min: plot.scales.y.min,
            max: plot.scales.y.max,
          },
        ];
      }),
    );
  }, source);
}

describe('the live city dashboard in a browser', () => {
  let platform: Platform;
  let base: string;
  let proxy: Awaited<ReturnType<typeof startOutageProxy>>;
  let page: Page;
  let admin: string;
  const partnerKey = issueApiKey('dashboard-partner', 'Dashboard test partner', 10_000);
  /** Uncaught errors, console errors and warnings of the operator's page (a dropped connection logs some, later). */
  let pageErrors: string[];
  /** Every reading of the gateway the collector published, as `<sensorId>@<epoch ms>`. */
  const published: string[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform({ pollIntervalMs: 300, httpHandlers: [dashboardHandler()], auth: { apiKeys: [partnerKey.record] } });
    platform.bus.subscribe((readings) => {
      for (const r of readings) if (r.gatewayId === gatewayId) published.push(`${r.sensorId}@${r.time}`);
    });
    // The page is an operator's: it shows an Austin gateway and the Pisek crossing and car parks.
    admin = await adminToken();
    await seedDayOfHistory(platform, admin);
    proxy = await startOutageProxy(platform.router.port);
    // The router serves the page at / and the API at /graphql; the browser reaches both through
    // the proxy, so an outage cuts the page off as a network drop would.
    base = `http://127.0.0.1:${proxy.port}`;
    const opened = await openDashboard(`${base}/#token=${admin}`);
    page = opened.page;
    pageErrors = opened.errors;
  });

  afterAll(async () => {
    await page?.close();
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

  it("the operator's page: goes live on the first gateway, austin-gw01, and draws its IQRF mesh of 40 nodes as a tree", async () => {
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');
    await expect.poll(() => page.locator('#mesh .mesh-node:not([data-role="COORDINATOR"])').count(), { timeout: 15_000 }).toBe(40);
    expect(await page.locator('#gateway-title').textContent()).toContain('(austin-gw01)');
    expect(await page.locator('#mesh .mesh-node[data-role="COORDINATOR"]').count()).toBe(1);
    expect(await page.locator('#mesh .mesh-node[data-role="SENSOR"]').count()).toBe(20);
    expect(await page.locator('#mesh .edge').count()).toBe(40);
    await expect.poll(() => page.locator('#gateways li').count()).toBe(4);
    expect(await page.locator('#gateways li[data-gateway="austin-gw01"] .badge').textContent()).toBe('online');
    await expect.poll(() => page.locator('#parking .lot').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#intersection-name').textContent()).toBe('Kollarova x Zizkova');
    // uPlot drew the three room charts and the traffic chart.
    expect(await page.locator('.chart canvas').count()).toBe(4);
    await expectRoomsLive(page, 20);
    await expectOpenDataLive(page);
    expect(await visiblePanels(page)).toEqual(['rooms-panel', 'traffic-panel', 'parking-panel', 'gateways-panel', 'mesh-panel']);
    expect(pageErrors).toEqual([]);
  });

  it('shows values that keep changing on screen while readings keep arriving', async () => {
    await expect.poll(() => page.locator('#last-reading').textContent(), { timeout: 15_000 }).not.toBe('—');
    const firstText = await page.locator('#last-reading').textContent();
    const firstCount = await receivedCount();
    // 60 sensors polled every 300 ms: far more than this unless the stream stalled.
    await expect.poll(receivedCount, { timeout: 10_000 }).toBeGreaterThan(firstCount + 60);
    await expect.poll(() => page.locator('#last-reading').textContent(), { timeout: 10_000 }).not.toBe(firstText);
    // Let the charts redraw with live buckets (they redraw once a second).
    await expect.poll(async () => (await chartAxes(page)).CO2?.values.length ?? 0).toBeGreaterThan(1);
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  });

  it('writes whole, rounded values on the value axes and 24-hour times on the time axes', async () => {
    await expect
      .poll(async () => Object.keys(await chartAxes(page)).sort(), { timeout: 15_000 })
      .toEqual(['CO2', 'HUMIDITY', 'TEMPERATURE', 'traffic']);
    // Drawn with data (the charts redraw once a second).
    await expect
      .poll(
        async () =>
          Object.values(await chartAxes(page)).every((axes) => axes.points > 0 && axes.values.length >= 2 && axes.times.length >= 2),
        { timeout: 15_000 },
      )
      .toBe(true);
    // The same charts on series the demo city does not have: a temperature steady to a hundredth
    // of a degree (ticks of 0.001 °C unless the axis is told a least span) and large counts.
    await page.evaluate(`(async () => {
      const { BucketChart } = await import('/dashboard/charts.js');
      const probe = (name, values, minSpan) => {
        const box = document.createElement('div');
        box.className = 'chart';
        document.querySelector('#traffic-panel').append(box);
        const chart = new BucketChart(box, { bucketMs: 600000, windowMs: 86400000, combine: 'avg', series: [{ key: name, label: name, stroke: '#000' }], minSpan });
        values.forEach((value, i) => chart.setBucket(name, chart.bucketOf(Date.now()) - i * 600000, value, 1));
        chart.draw();
        window.probes = { ...window.probes, [name]: chart };
      };
      probe('steady', [19.6712, 19.6755, 19.6788, 19.6731], 0);
      probe('large', [123456, 123912, 124420], 0);
    })()`);
    await expect.poll(async () => Object.values(await chartAxes(page, 'probes')).filter((axes) => axes.values.length >= 2).length).toBe(2);
    const axes = { ...(await chartAxes(page)), ...(await chartAxes(page, 'probes')) };
    for (const [name, { times, values, axisWidth, widest, min, max }] of Object.entries(axes)) {
      for (const time of times) expect(time, `${name} time tick`).toMatch(/^([01]\d|2[0-3]):[0-5]\d$/);
      // Each label is a whole number of the axis' range (a cut "9.675" of 19.675 °C is not), at most 2 decimals.
      for (const label of values.filter(Boolean)) {
        expect(label, `${name} value tick`).toMatch(/^-?\d+(\.\d{1,3})?$/);
        expect(Number(label), `${name} value tick ${label} in [${min}, ${max}]`).toBeGreaterThanOrEqual(min - (max - min) * 0.01);
        expect(Number(label), `${name} value tick ${label} in [${min}, ${max}]`).toBeLessThanOrEqual(max + (max - min) * 0.01);
      }
      // uPlot draws a label right-aligned 15 px (tick and gap) left of the plot: the axis needs that much more than its widest label.
      expect(axisWidth, `${name}: the value axis is wider than its widest label`).toBeGreaterThanOrEqual(widest + 15);
    }
    // Seeded and live temperatures are about 20 °C, told apart to a tenth of a degree: the axis says so in full.
    expect(
      axes.TEMPERATURE!.values.filter(Boolean).every((label) => /^\d\d(\.\d)?$/.test(label) && Number(label) >= 15 && Number(label) <= 30),
    ).toBe(true);
    expect(axes.steady!.values.filter(Boolean).every((label) => /^19\.6\d+$/.test(label) || label === '19.700')).toBe(true);
    expect(axes.large!.values.filter(Boolean).every((label) => /^12[34]\d{3}$/.test(label))).toBe(true);
    await page.evaluate(() => {
      for (const chart of Object.values(
        (window as unknown as { probes: Record<string, { destroy: () => void; element: HTMLElement }> }).probes,
      )) {
        chart.destroy();
        chart.element.remove();
      }
    });
  });

  it('draws meshes of 5 to 240 nodes with every label inside the drawing, legible and apart', async () => {
    await expect.poll(() => page.locator('#mesh .mesh-node').count(), { timeout: 15_000 }).toBe(41);
    const austin = await meshLegibility(page);
    expect(austin.count).toBe(41);
    expect(austin).toMatchObject({ outside: [], overlapping: [] });
    expect(austin.minHeight).toBeGreaterThanOrEqual(10);
    expect(austin.maxHeight).toBeLessThanOrEqual(20);
    // Room labels where a node has a room, bare addresses where it has none (the routers).
    expect(austin.texts).toContain('21 · room 301');
    expect(austin.texts).toContain('1');
    expect(austin.texts.filter((t) => t.includes('room'))).toHaveLength(20);

    // The same module on meshes the demo city does not have: 5 nodes in a row, 240 in a wide tree.
    for (const size of [5, 240]) {
      // A script of its own (a function would be rewritten by the test's bundler): the page's module, imported as the page does.
      const drawn = (await page.evaluate(`(async (size) => {
        const { renderMesh } = await import('/dashboard/mesh.js');
        const box = document.createElement('div');
        box.id = 'mesh-' + size;
        box.className = 'mesh';
        document.querySelector('#mesh-panel').append(box);
        const nodes = Array.from({ length: size }, (_, i) => {
          const address = i + 1;
          // 5: a chain; 240: 3 routers off the coordinator, 9 behind them, 228 sensors with rooms behind those.
          const router = size <= 5 || address <= 12;
          const parent = size <= 5 ? i : address <= 3 ? 0 : address <= 12 ? ((address - 1) % 3) + 1 : ((address - 13) % 9) + 4;
          return { address, role: router ? 'ROUTER' : 'SENSOR', parent: { address: parent }, hops: 0, name: 'node-' + address, room: router ? null : 'Building ' + (address % 7) + ' Room ' + address };
        });
        return renderMesh(box, { size, coordinator: { address: 0 }, nodes });
      })(${size})`)) as { nodes: number };
      expect(drawn.nodes).toBe(size);
      const labels = await meshLegibility(page, `#mesh-${size}`);
      expect(labels.count).toBe(size + 1);
      expect(labels).toMatchObject({ outside: [], overlapping: [] });
      expect(labels.minHeight).toBeGreaterThanOrEqual(10);
      expect(labels.maxHeight).toBeLessThanOrEqual(20);
      await page.locator(`#mesh-${size}`).evaluate((box) => box.remove());
    }
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

  it("a tenant's page (pisek-city): its own gateways only, starting on its first, with live rooms in natural order", async () => {
    const tenant = await openDashboard(`${base}/#token=${await tokenFor('pisek-city')}`);
    try {
      const { page } = tenant;
      await expect
        .poll(() => page.locator('#gateways li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.gateway)))
        .toEqual(['pisek-gw001', 'pisek-gw002', 'pisek-gw003']);
      expect(await page.locator('#gateway-title').textContent()).toBe('Pisek gateway 1 (pisek-gw001)');
      expect(await page.locator('#caller').textContent()).toBe('tenant pisek-city');
      // pisek-gw001's rooms with room sensors (its counters are not rooms), "school room 2" before "school room 10" would be.
      await expectRoomsLive(page, 7);
      expect(await roomNames(page)).toEqual(Array.from({ length: 7 }, (_, i) => `school room ${i + 1}`));
      await expect.poll(() => page.locator('#mesh .mesh-node').count()).toBe(11);
      await expectOpenDataLive(page);
      expect(await visiblePanels(page)).toEqual(['rooms-panel', 'traffic-panel', 'parking-panel', 'gateways-panel', 'mesh-panel']);
      await page.screenshot({ path: join(artifacts, 'dashboard-tenant.png'), fullPage: true });
      expect(tenant.errors).toEqual([]);
    } finally {
      await tenant.page.close();
    }
  });

  it("asked for another tenant's gateway (?gateway=austin-gw01), a tenant's page shows its own first one instead", async () => {
    const tenant = await openDashboard(`${base}/?gateway=austin-gw01#token=${await tokenFor('pisek-city')}`);
    try {
      const { page } = tenant;
      await expect.poll(() => page.locator('#gateway-title').textContent()).toBe('Pisek gateway 1 (pisek-gw001)');
      await expectLiveText(page, '#last-reading');
      expect(await page.locator('#last-reading').textContent()).toContain('school room');
      expect(new URL(page.url()).searchParams.get('gateway')).toBe('pisek-gw001');
      expect(tenant.errors).toEqual([]);
    } finally {
      await tenant.page.close();
    }
  });

  for (const caller of ['anonymous', 'apiKey'] as const) {
    it(`${caller === 'anonymous' ? 'an anonymous page' : "a partner's API key (#key=)"}: open data, live, and no panel it may not read`, async () => {
      const opened = await openDashboard(caller === 'anonymous' ? `${base}/` : `${base}/#key=${partnerKey.key}`);
      try {
        const { page } = opened;
        await expectOpenDataLive(page);
        await expect.poll(() => page.locator('#connection').textContent()).toBe('live');
        expect(await visiblePanels(page)).toEqual(['traffic-panel', 'parking-panel']);
        expect(await page.locator('#open-data-note').isVisible()).toBe(true);
        expect(await page.locator('#caller').textContent()).toBe(
          caller === 'anonymous' ? 'not signed in: open data' : 'partner API key: open data',
        );
        // The page asked only for what it may read: every request carried the key (or nothing), none was refused.
        expect(opened.apiHeaders.length).toBeGreaterThanOrEqual(2);
        for (const headers of opened.apiHeaders) {
          expect(headers['x-api-key']).toBe(caller === 'apiKey' ? partnerKey.key : undefined);
          expect(headers.authorization).toBeUndefined();
        }
        await page.screenshot({
          path: join(artifacts, `dashboard-${caller === 'anonymous' ? 'anonymous' : 'api-key'}.png`),
          fullPage: true,
        });
        expect(opened.errors).toEqual([]);
      } finally {
        await opened.page.close();
      }
    });
  }

  it('fits a 390 px wide phone: nothing sticks out, the page does not scroll sideways', async () => {
    const phone = await openDashboard(`${base}/#token=${admin}`, { width: 390, height: 844 });
    try {
      const { page } = phone;
      await expect.poll(() => page.locator('#mesh .mesh-node').count(), { timeout: 15_000 }).toBe(41);
      await expectRoomsLive(page, 20);
      await expect.poll(() => page.locator('#parking .lot').count()).toBe(2);
      const layout = await horizontalOverflow(page);
      expect(layout.outside).toEqual([]);
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.width);
      await page.screenshot({ path: join(artifacts, 'dashboard-390px.png'), fullPage: true });
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.page.close();
    }
  });
});

describe('the dashboard of the whole city (SCENARIO=pisek, 300 gateways)', () => {
  let platform: Platform;
  let base: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ scenario: 'pisek', pollIntervalMs: 1_000, httpHandlers: [dashboardHandler()] });
    base = platform.routerUrl.replace(/\/graphql$/, '');
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("the operator's link: a short gateway list, online and offline counts, a search that finds a gateway and shows its live rooms", async () => {
    const operator = await openDashboard(`${base}/#token=${await adminToken()}`);
    try {
      const { page } = operator;
      await expect.poll(() => page.locator('#gateway-title').textContent(), { timeout: 15_000 }).toBe('Pisek gateway 1 (pisek-gw001)');
      await expect.poll(() => page.locator('#gateways-page').textContent()).toBe('1–10 of 300');
      expect(await page.locator('#gateways li').count()).toBe(10);
      expect((await page.locator('#gateways-panel').boundingBox())!.height).toBeLessThan(600);
      const counted = await page.locator('#gateway-counts .count').allTextContents();
      expect(counted.map((text) => text.replace(/^\d+ /, ''))).toEqual(['online', 'offline']);
      expect(counted.reduce((sum, text) => sum + Number.parseInt(text, 10), 0)).toBe(300);
      await page.locator('#gateways-next').click();
      await expect.poll(() => page.locator('#gateways li').first().getAttribute('data-gateway')).toBe('pisek-gw011');

      await page.locator('#gateway-search').fill('gw257');
      await expect
        .poll(() => page.locator('#gateways li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.gateway)))
        .toEqual(['pisek-gw257']);
      await page.locator('#gateways li button').click();
      await expect.poll(() => page.locator('#gateway-title').textContent()).toBe('Pisek gateway 257 (pisek-gw257)');
      expect(new URL(page.url()).searchParams.get('gateway')).toBe('pisek-gw257');
      await expect.poll(() => page.locator('#mesh .mesh-node').count(), { timeout: 15_000 }).toBe(13);
      expect(await page.locator('#mesh-gateway').textContent()).toBe('pisek-gw257');
      await expectRoomsLive(page, 10);
      expect(await page.locator('#last-reading').textContent()).toContain('building 257 room');
      // Sorted as people count: room 2 before room 10.
      expect(await roomNames(page)).toEqual(Array.from({ length: 10 }, (_, i) => `building 257 room ${i + 1}`));
      const mesh = await meshLegibility(page);
      expect(mesh).toMatchObject({ outside: [], overlapping: [] });
      expect(mesh.texts).toContain('3 · building 257 room 1');
      await expectOpenDataLive(page);
      await page.screenshot({ path: join(artifacts, 'dashboard-pisek.png'), fullPage: true });
      expect(operator.errors).toEqual([]);
    } finally {
      await operator.page.close();
    }
  });
});
