import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope } from '#auth';
import { dashboardHandler } from '../../dashboard/handler.ts';
import type { Platform } from '../../platform/platform.ts';
import { LIGHTS_TENANT } from '../../simulator/src/scenario.ts';
import { adminToken } from '../support/auth.ts';
import { graphql } from '../support/graphql.ts';
import { launchChromiumProfile } from '../support/chromium.ts';
import { startTestPlatform } from '../support/platform.ts';

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));
const gatewayId = 'austin-gw01';
const tenant = 'austin-summit';
/** Room 301's ventilation relay (node 21, output 0) and room 302's (node 22). */
const ventilation301 = `${gatewayId}.21.output0`;
const ventilation302 = `${gatewayId}.22.output0`;

let context: BrowserContext;
let browser: Awaited<ReturnType<typeof launchChromiumProfile>> | undefined;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchChromiumProfile('dashboard-actuators');
  context = browser.context;
});

afterAll(async () => {
  await browser?.close();
});

interface DashboardPage {
  page: Page;
  /** Uncaught errors, console errors and warnings of the page. */
  errors: string[];
  /** The operation names and variables of every request the page sent to /graphql. */
  operations: Array<{ name: string; variables: Record<string, any> }>;
}

/**
 * A new tab (its own session storage, so its own credentials) on `url`, its errors and requests
 * collected; `prepare` runs before the page is loaded (to route its WebSockets).
 */
async function openDashboard(url: string, prepare?: (page: Page) => Promise<void>): Promise<DashboardPage> {
  const page = await context.newPage();
  await prepare?.(page);
  const opened: DashboardPage = { page, errors: [], operations: [] };
  page.on('pageerror', (error) => opened.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') opened.errors.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (new URL(request.url()).pathname !== '/graphql' || request.method() !== 'POST') return;
    const body = request.postDataJSON() as { query: string; variables?: Record<string, any> };
    opened.operations.push({ name: /(?:query|mutation) (\w+)/.exec(body.query)?.[1] ?? '', variables: body.variables ?? {} });
  });
  await page.goto(url);
  return opened;
}

/**
 * Routes the page's graphql-ws connections through Playwright to the router, so that the test can
 * drop them and refuse new ones for a while: a network outage as the page sees it. 4499 is a close
 * the graphql-ws client retries.
 */
async function droppableWebSockets(page: Page) {
  const open = new Set<WebSocketRoute>();
  let down = false;
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    if (down) return ws.close({ code: 4499, reason: 'outage' });
    const server = ws.connectToServer();
    open.add(ws);
    ws.onClose(() => {
      open.delete(ws);
      server.close();
    });
    server.onClose(() => {
      open.delete(ws);
      ws.close();
    });
  });
  return {
    /** Drops every connection and refuses new ones until `restore`. */
    drop() {
      down = true;
      for (const ws of open) ws.close({ code: 4499, reason: 'outage' });
      open.clear();
    },
    restore() {
      down = false;
    },
  };
}

/** The row of an actuator on the page. */
const row = (page: Page, id: string) => page.locator(`#actuators [data-actuator="${id}"]`);
/** What the row says: its state (`on`, `off`, `40 %`), its status, and the last command's outcome. */
const shownState = (page: Page, id: string) => row(page, id).locator('.state').textContent();
const shownStatus = (page: Page, id: string) => row(page, id).locator('.status').getAttribute('data-status');
const shownOutcome = (page: Page, id: string) => row(page, id).locator('.outcome').textContent();

describe("the dashboard's actuators in a browser", () => {
  let platform: Platform;
  let base: string;
  let admin: string;
  /** A street-light maintenance company's key: it may command what it is granted. */
  const partner = issueApiKey('street-maintenance', 'Street light maintenance', 10_000, [Scope.ACTUATORS_WRITE]);

  /** Switches a relay through the API, as another client would, and returns its command. */
  async function switchThroughApi(actuatorId: string, on: boolean, token = admin) {
    const { data, errors } = await graphql<{
      switchActuator: { command: { outcome: string } | null; userErrors: Array<{ code: string; message: string }> };
    }>(
      platform.routerUrl,
      `
        mutation ($input: SwitchActuatorInput!) {
          switchActuator(input: $input) {
            command {
              outcome
            }
            userErrors {
              code
              message
            }
          }
        }
      `,
      { input: { actuatorId, on, idempotencyKey: crypto.randomUUID() } },
      { token },
    );
    expect(errors).toBeUndefined();
    expect(data!.switchActuator.userErrors).toEqual([]);
    return data!.switchActuator.command!;
  }

  /** Grants `grantee` the right to command `actuatorIds` of tenant `of`; returns the grant's id. */
  async function grant(grantee: { userId: string } | { apiKeyId: string }, actuatorIds: string[], of: string) {
    const { data, errors } = await graphql<{ grantActuatorAccess: { grant: { id: string } | null; userErrors: unknown[] } }>(
      platform.routerUrl,
      `
        mutation ($input: GrantActuatorAccessInput!) {
          grantActuatorAccess(input: $input) {
            grant {
              id
            }
            userErrors {
              code
              message
            }
          }
        }
      `,
      { input: { grantee, select: { actuatorIds }, tenant: of } },
      { token: admin },
    );
    expect(errors).toBeUndefined();
    expect(data!.grantActuatorAccess.userErrors).toEqual([]);
    return data!.grantActuatorAccess.grant!.id;
  }

  /** The commands of an actuator's audit trail, newest first. */
  async function audit(actuatorId: string) {
    const { data, errors } = await graphql<{
      actuator: { audit: Array<{ id: string; on: boolean | null; outcome: string; requestedBy: string }> };
    }>(
      platform.routerUrl,
      `
        query ($id: ID!) {
          actuator(id: $id) {
            audit(last: 50) {
              id
              on
              outcome
              requestedBy
            }
          }
        }
      `,
      { id: actuatorId },
      { token: admin },
    );
    expect(errors).toBeUndefined();
    return data!.actuator.audit;
  }

  beforeAll(async () => {
    // No demo grants: each test grants what it needs.
    platform = await startTestPlatform({
      pollIntervalMs: 300,
      httpHandlers: [dashboardHandler()],
      auth: { apiKeys: [partner.record] },
      demoGrants: false,
    });
    base = platform.routerUrl.replace(/\/graphql$/, '');
    admin = await adminToken();
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("the operator switches room 301's ventilation on from the page, sees it confirmed, and sees another client's switch live", async () => {
    // Off to begin with, so that the page's command changes something.
    expect((await switchThroughApi(ventilation301, false)).outcome).toBe('CONFIRMED');
    const opened = await openDashboard(`${base}/?gateway=${gatewayId}#token=${admin}`);
    const { page } = opened;
    try {
      await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');
      // Every room's two relays, grouped by room.
      await expect.poll(() => page.locator('#actuators .actuator').count(), { timeout: 15_000 }).toBe(40);
      expect(await page.locator('#actuators .actuator-group[data-group="room 301"] .actuator').count()).toBe(2);
      expect(await row(page, ventilation301).locator('.name').textContent()).toBe('ventilation');
      await expect.poll(() => shownState(page, ventilation301)).toBe('off');
      expect(await shownStatus(page, ventilation301)).toBe('CONFIRMED');
      expect(await page.locator('#actuators-note').isVisible()).toBe(false);

      // Switched on by its labelled button; a double click sends one command, not two.
      const before = (await audit(ventilation301)).length;
      const on = page.getByRole('button', { name: 'Switch ventilation, room 301 on' });
      expect(await on.getAttribute('aria-pressed')).toBe('false');
      await on.dblclick();
      await expect
        .poll(() => shownOutcome(page, ventilation301), { timeout: 10_000 })
        .toMatch(/^✓ on: confirmed by the gateway at .* \(was off\)\.$/);
      expect(await shownState(page, ventilation301)).toBe('on');
      expect(await shownStatus(page, ventilation301)).toBe('CONFIRMED');
      expect(await row(page, ventilation301).locator('.status').textContent()).toMatch(/^✓ confirmed \d\d:\d\d:\d\d$/);
      expect(await on.getAttribute('aria-pressed')).toBe('true');
      const switches = opened.operations.filter((o) => o.name === 'DashboardSwitchActuator');
      expect(switches).toHaveLength(1);
      expect(switches[0]!.variables.input).toMatchObject({ actuatorId: ventilation301, on: true });
      expect(switches[0]!.variables.input.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const trail = await audit(ventilation301);
      expect(trail.length - before).toBe(1);
      expect(trail[0]).toMatchObject({ on: true, outcome: 'CONFIRMED' });

      // Another client switches it off: the page follows from actuatorEvents, without reading the actuators again.
      const reads = opened.operations.filter((o) => o.name === 'DashboardActuators').length;
      expect((await switchThroughApi(ventilation301, false)).outcome).toBe('CONFIRMED');
      await expect.poll(() => shownState(page, ventilation301), { timeout: 10_000 }).toBe('off');
      expect(await shownStatus(page, ventilation301)).toBe('CONFIRMED');
      expect(await shownOutcome(page, ventilation301)).toMatch(/^✓ off: confirmed by the gateway/);
      expect(opened.operations.filter((o) => o.name === 'DashboardActuators').length).toBe(reads);
      // The log names what happened and who asked.
      await expect
        .poll(() => page.locator(`#actuator-log li[data-actuator="${ventilation301}"][data-kind="CONFIRMED"]`).allTextContents())
        .toEqual(expect.arrayContaining([expect.stringMatching(/ventilation, room 301: ✓ off confirmed, was on \(by .+\)$/)]));

      await page.locator('#actuators-panel').screenshot({ path: join(artifacts, 'dashboard-actuators.png') });
      expect(opened.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('retries a command whose answer was lost with the same idempotency key: switched once, the first outcome shown', async () => {
    const ventilation304 = `${gatewayId}.24.output0`;
    expect((await switchThroughApi(ventilation304, false)).outcome).toBe('CONFIRMED');
    const opened = await openDashboard(`${base}/?gateway=${gatewayId}#token=${admin}`);
    const { page } = opened;
    try {
      await expect.poll(() => shownState(page, ventilation304), { timeout: 15_000 }).toBe('off');
      const before = (await audit(ventilation304)).length;
      // The first request reaches the platform (and is carried out), its answer is lost on the way back.
      let lost = 0;
      await page.route('**/graphql', async (route) => {
        if (lost > 0 || !route.request().postData()?.includes('DashboardSwitchActuator')) return route.fallback();
        lost += 1;
        await route.fetch();
        await route.abort('connectionreset');
      });
      await page.getByRole('button', { name: 'Switch ventilation, room 304 on' }).click();
      const sent = () => opened.operations.filter((o) => o.name === 'DashboardSwitchActuator').map((o) => o.variables.input.idempotencyKey);
      // Retried by the page (the live event of the command may tell the outcome before the retry's answer does).
      await expect.poll(() => sent().length, { timeout: 15_000 }).toBe(2);
      expect(lost).toBe(1);
      expect(sent()[1]).toBe(sent()[0]);
      await expect.poll(() => row(page, ventilation304).locator('button:disabled').count(), { timeout: 10_000 }).toBe(0);
      expect(await shownOutcome(page, ventilation304)).toMatch(/^✓ on: confirmed by the gateway .*\(was off\)\.$/);
      const trail = await audit(ventilation304);
      expect(trail.length - before).toBe(1);
      expect(trail[0]).toMatchObject({ on: true, outcome: 'CONFIRMED' });
    } finally {
      await page.close();
    }
  });

  it('resumes its actuator events after a dropped connection: a switch made while the page was away arrives', async () => {
    const ventilation303 = `${gatewayId}.23.output0`;
    expect((await switchThroughApi(ventilation303, false)).outcome).toBe('CONFIRMED');
    let network!: Awaited<ReturnType<typeof droppableWebSockets>>;
    const opened = await openDashboard(`${base}/?gateway=${gatewayId}#token=${admin}`, async (page) => {
      network = await droppableWebSockets(page);
    });
    const { page } = opened;
    try {
      await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');
      await expect.poll(() => shownState(page, ventilation303), { timeout: 15_000 }).toBe('off');
      // Live: a first switch arrives while connected (so the page holds a cursor to resume from).
      expect((await switchThroughApi(ventilation303, true)).outcome).toBe('CONFIRMED');
      await expect.poll(() => shownState(page, ventilation303), { timeout: 10_000 }).toBe('on');
      const reads = opened.operations.filter((o) => o.name === 'DashboardActuators').length;

      network.drop();
      await expect.poll(() => page.locator('#connection').textContent(), { timeout: 5_000, interval: 50 }).toBe('reconnecting…');
      // Switched off while the page is cut off: only a resumed stream can tell it.
      expect((await switchThroughApi(ventilation303, false)).outcome).toBe('CONFIRMED');
      expect(await shownState(page, ventilation303)).toBe('on');
      network.restore();
      await expect.poll(() => page.locator('#connection').textContent(), { timeout: 20_000 }).toBe('live');
      await expect.poll(() => shownState(page, ventilation303), { timeout: 10_000 }).toBe('off');
      expect(await shownStatus(page, ventilation303)).toBe('CONFIRMED');
      // From the events it missed, not from reading the actuators again.
      expect(opened.operations.filter((o) => o.name === 'DashboardActuators').length).toBe(reads);
    } finally {
      await page.close();
    }
  });

  it("a tenant's page without a grant shows its actuators and their state, with every control disabled saying why", async () => {
    // Of the tenant, allowed to command (the scope) but granted nothing.
    const token = await mintToken({
      tenant,
      subject: 'visitor',
      scopes: [Scope.DEVICES_READ, Scope.ACTUATORS_WRITE],
      secret: DEVELOPMENT_SECRET,
      expiresIn: '1h',
    });
    const opened = await openDashboard(`${base}/#token=${token}`);
    const { page } = opened;
    try {
      await expect.poll(() => page.locator('#actuators .actuator').count(), { timeout: 15_000 }).toBe(40);
      await expect.poll(() => shownState(page, ventilation301)).toMatch(/^(on|off)$/);
      expect(await page.locator('#actuators-note').isVisible()).toBe(true);
      const buttons = page.locator('#actuators .actuator button');
      expect(await buttons.count()).toBe(80);
      expect(await buttons.evaluateAll((all) => all.filter((b) => !(b as HTMLButtonElement).disabled).length)).toBe(0);
      expect(await row(page, ventilation301).locator('.controls').getAttribute('title')).toMatch(/actuators:write scope and a grant/);
      expect(await page.getByRole('button', { name: 'Switch ventilation, room 301 on' }).getAttribute('title')).toMatch(/grant/);
      expect(opened.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("a tenant's user with a grant for room 302's ventilation switches it, and nothing else; once revoked, the page says it is not allowed", async () => {
    const grantId = await grant({ userId: 'facilities-302' }, [ventilation302], tenant);
    expect((await switchThroughApi(ventilation302, false)).outcome).toBe('CONFIRMED');
    const token = await mintToken({
      tenant,
      subject: 'facilities-302',
      scopes: [Scope.DEVICES_READ, Scope.TELEMETRY_READ, Scope.ACTUATORS_WRITE],
      secret: DEVELOPMENT_SECRET,
      expiresIn: '1h',
    });
    const opened = await openDashboard(`${base}/#token=${token}`);
    const { page } = opened;
    try {
      await expect.poll(() => page.locator('#actuators .actuator').count(), { timeout: 15_000 }).toBe(40);
      await expect.poll(() => shownState(page, ventilation302)).toBe('off');
      const enabled = await page
        .locator('#actuators .actuator')
        .evaluateAll((rows) =>
          rows.filter((r) => r.querySelector('button:not([disabled])')).map((r) => (r as HTMLElement).dataset.actuator),
        );
      expect(enabled).toEqual([ventilation302]);

      await page.getByRole('button', { name: 'Switch ventilation, room 302 on' }).click();
      await expect.poll(() => shownOutcome(page, ventilation302), { timeout: 10_000 }).toMatch(/^✓ on: confirmed by the gateway/);
      expect(await shownState(page, ventilation302)).toBe('on');
      expect((await audit(ventilation302))[0]).toMatchObject({ on: true, outcome: 'CONFIRMED', requestedBy: 'facilities-302' });

      // Revoked meanwhile: the page still offers the control (it read canCommand before), the API refuses, and the page says so.
      const revoked = await graphql<{ revokeActuatorAccess: { revokedGrantId: string | null } }>(
        platform.routerUrl,
        `
          mutation ($input: RevokeActuatorAccessInput!) {
            revokeActuatorAccess(input: $input) {
              revokedGrantId
              userErrors {
                code
                message
              }
            }
          }
        `,
        { input: { grantId } },
        { token: admin },
      );
      expect(revoked.data!.revokeActuatorAccess.revokedGrantId).toBe(grantId);
      await page.getByRole('button', { name: 'Switch ventilation, room 302 off' }).click();
      await expect
        .poll(() => shownOutcome(page, ventilation302), { timeout: 10_000 })
        // The answer to the page's request, or the REFUSED event of the same command if it came later: both say so in words.
        .toMatch(/^✗ (Not allowed: you have no grant to command ventilation\.|off: refused\. Not allowed: .+)$/);
      expect(await row(page, ventilation302).locator('.outcome').getAttribute('data-tone')).toBe('error');
      // Not switched, and not shown as if it were.
      expect(await shownState(page, ventilation302)).toBe('on');
      expect(opened.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("a street-light company's API key with a grant for one street light sets its level from the page and sees the confirmation live", async () => {
    const light = 'pisek-gw002.1.light0';
    // The street lights of the city's gateways are the lighting customer's (a shared gateway).
    await grant({ apiKeyId: 'street-maintenance' }, [light], LIGHTS_TENANT);
    const opened = await openDashboard(`${base}/#key=${partner.key}`);
    const { page } = opened;
    try {
      // Only what it was granted, on a panel of its own; open data as before.
      await expect.poll(() => page.locator('#actuators-panel').isVisible(), { timeout: 15_000 }).toBe(true);
      expect(await page.locator('#actuators-heading').textContent()).toBe('Actuators granted to you');
      await expect
        .poll(() => page.locator('#actuators .actuator').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.actuator)))
        .toEqual([light]);
      expect(await page.locator('#actuators .actuator-group h3').textContent()).toBe('node 1 · pisek-gw002');
      await expect.poll(() => shownState(page, light), { timeout: 10_000 }).toMatch(/^\d+ %$/);
      await expect.poll(() => page.locator('#connection').textContent(), { timeout: 15_000 }).toBe('live');

      const level = (await shownState(page, light)) === '60 %' ? 30 : 60;
      await page.getByRole('slider', { name: 'Level of street light A, node 1 · pisek-gw002 (%)' }).fill(String(level));
      await expect
        .poll(() => shownOutcome(page, light), { timeout: 10_000 })
        .toMatch(new RegExp(`^✓ ${level} %: confirmed by the gateway at .* \\(was \\d+ %\\)\\.$`));
      expect(await shownState(page, light)).toBe(`${level} %`);
      expect(await shownStatus(page, light)).toBe('CONFIRMED');
      // Its confirmation came live too (actuatorEvents of the granted actuators), naming the key.
      await expect
        .poll(() => page.locator('#actuator-log li[data-kind="CONFIRMED"]').allTextContents(), { timeout: 10_000 })
        .toEqual([
          expect.stringMatching(
            new RegExp(`street light A, node 1 · pisek-gw002: ✓ ${level} % confirmed, was \\d+ % \\(by apiKey:street-maintenance\\)$`),
          ),
        ]);
      expect(opened.operations.find((o) => o.name === 'DashboardSetLightLevel')?.variables.input).toMatchObject({
        actuatorId: light,
        level,
      });
      await page.locator('#actuators-panel').screenshot({ path: join(artifacts, 'dashboard-actuators-partner.png') });
      expect(opened.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
