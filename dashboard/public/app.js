// The live city dashboard: rooms, actuators and IQRF mesh of a gateway the caller chooses among
// its own (actuators switched by callers allowed to), traffic at Kollarova x Zizkova, parking,
// gateway status, from the GraphQL API only. What the caller may not read (an anonymous caller or
// a partner's API key: everything but open data) is not asked for and its panels are not shown. `?api=<url>` names the endpoint (on this origin or
// one of DASHBOARD_API_ORIGINS; default /graphql of this origin), `?gateway=<id>` the gateway
// shown first (default: the caller's first), `?intersection=<name>` the crossing.
import { showActuators } from './actuators.js';
import { apiEndpoint, callerView, graphql, liveClient, resumableReadings } from './api.js';
import { BucketChart } from './charts.js';
import { $, render } from './dom.js';
import { timeOfDay } from './format.js';
import { GatewayList } from './gateways.js';
import { HistoryBoundary } from './history-boundary.js';
import { renderMesh } from './mesh.js';
import { showRooms } from './rooms.js';

/** @typedef {import('./api.js').Reading} Reading */

const params = new URLSearchParams(location.search);
const api = apiEndpoint();
const caller = callerView();
const intersectionName = params.get('intersection') ?? 'Kollarova x Zizkova';
const day = 24 * 3600_000;
const tenMinutes = 600_000;
const seesGateways = caller.may('devices:read');
const seesRooms = seesGateways && caller.may('telemetry:read');
// A partner's API key or a user who may command actuators but not read gateways: those granted to it, if any.
const seesGrantedActuators = !seesGateways && (caller.kind === 'apiKey' || (caller.kind === 'user' && caller.may('actuators:write')));

/**
 * What the page has received, for people (the header) and for tests: the count, and each
 * sensor's reading times (the last 5000 per sensor).
 */
const received = { count: 0, /** @type {Map<string, string[]>} */ times: new Map() };
/** The charts drawn, by name (`traffic`, and `CO2`, `TEMPERATURE`, `HUMIDITY` of the rooms shown), for tests. */
const charts = () => ({ ...(traffic ? { traffic } : {}), ...(rooms?.charts() ?? {}) });
Object.assign(window, { dashboard: { received, charts, readingTimes: (/** @type {string} */ id) => [...(received.times.get(id) ?? [])] } });

function count(/** @type {Reading} */ reading) {
  received.count += 1;
  let times = received.times.get(reading.sensor.id);
  if (!times) received.times.set(reading.sensor.id, (times = []));
  times.push(reading.time);
  if (times.length > 5_000) times.splice(0, times.length - 5_000);
  render('received', () => ($('received').textContent = String(received.count)));
}

function showProblem(/** @type {unknown} */ error) {
  console.error(error);
  const box = $('problem');
  box.hidden = false;
  box.textContent = `Could not load part of the dashboard: ${error instanceof Error ? error.message : String(error)}`;
}

// Panels this caller may not read are left out, not shown as errors.
$('caller').textContent = caller.label;
$('rooms-panel').hidden = !seesRooms;
for (const id of ['gateways-panel', 'actuators-panel', 'mesh-panel']) $(id).hidden = !seesGateways;
$('gateway-title').hidden = !seesGateways;
$('open-data-note').hidden = seesGateways;
if (caller.kind === 'apiKey') $('open-data-note').textContent = 'Open data only (a partner API key reads open data): traffic and parking.';

const client = liveClient(api, (state) =>
  render('connection', () => {
    const indicator = $('connection');
    indicator.dataset.state = state;
    indicator.textContent = state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : 'connecting…';
  }),
);

async function startCity() {
  // Which sensors first, so the live stream is open (buffered) before history is read.
  const ids = await graphql(
    api,
    `
      query DashboardCitySensors {
        intersections {
          id
          name
          counters {
            id
            quantity
          }
        }
        parkingLots {
          id
          sensor {
            id
          }
        }
      }
    `,
  );
  const intersection = ids.intersections.find((/** @type {{ name: string }} */ i) => i.name === intersectionName) ?? ids.intersections[0];
  /** @type {Map<string, 'vehicles' | 'pedestrians'>} */
  const counterKind = new Map();
  for (const c of intersection?.counters ?? []) {
    if (c.quantity === 'VEHICLE_COUNT') counterKind.set(c.id, 'vehicles');
    if (c.quantity === 'PEDESTRIAN_COUNT') counterKind.set(c.id, 'pedestrians');
  }
  /** @type {Map<string, { id: string, name: string, capacity: number, occupied: number | null, updatedAt: string | null }>} */
  const lotBySensor = new Map();
  const sensorIds = [...counterKind.keys(), ...ids.parkingLots.map((/** @type {{ sensor: { id: string } }} */ lot) => lot.sensor.id)];

  const parking = $('parking');
  const drawLot = (
    /** @type {{ id: string, name: string, capacity: number, occupied: number | null, updatedAt: string | null }} */ lot,
  ) => {
    let card = /** @type {HTMLElement | null} */ (parking.querySelector(`[data-lot="${CSS.escape(lot.id)}"]`));
    if (!card) {
      card = document.createElement('div');
      card.className = 'lot';
      card.dataset.lot = lot.id;
      card.innerHTML = `<div class="name"></div><div class="bar"><div></div></div><div class="numbers"></div>`;
      parking.append(card);
    }
    const occupied = lot.occupied ?? 0;
    /** @type {HTMLElement} */ (card.querySelector('.name')).textContent = lot.name;
    /** @type {HTMLElement} */ (card.querySelector('.bar > div')).style.width =
      `${Math.min(100, (100 * occupied) / Math.max(lot.capacity, 1))}%`;
    /** @type {HTMLElement} */ (card.querySelector('.numbers')).textContent =
      lot.occupied === null
        ? `${lot.capacity} places, no reading yet`
        : `${occupied} of ${lot.capacity} taken, ${Math.max(lot.capacity - occupied, 0)} free · ${lot.updatedAt ? timeOfDay(lot.updatedAt) : ''}`;
  };
  // A live reading: a counter's count goes into its 10-minute bucket, a lot's occupancy replaces the last.
  const apply = (/** @type {Reading} */ r) => {
    const kind = counterKind.get(r.sensor.id);
    if (kind && traffic) {
      const bucket = traffic.add(kind, Date.parse(r.time), r.value);
      if (bucket && traffic.bucketOf(Date.parse(r.time)) === traffic.bucketOf(Date.now()))
        render(`traffic-${kind}`, () => ($(`traffic-${kind}`).textContent = String(Math.round(bucket.sum))));
      render('traffic-last', () => ($('traffic-last').textContent = timeOfDay(r.time)));
    }
    const lot = lotBySensor.get(r.sensor.id);
    if (lot && (!lot.updatedAt || Date.parse(r.time) >= Date.parse(lot.updatedAt))) {
      Object.assign(lot, { occupied: Math.round(r.value), updatedAt: r.time });
      render(`lot:${lot.id}`, () => drawLot(lot));
      render('parking-last', () => ($('parking-last').textContent = timeOfDay(r.time)));
    }
  };

  const boundary = new HistoryBoundary();
  if (sensorIds.length > 0)
    resumableReadings(
      client,
      `subscription DashboardCityReadings($sensorIds: [ID!]!, $after: String) {
        readings(sensorIds: $sensorIds, after: $after) { time value cursor sensor { id } }
      }`,
      { sensorIds },
      {
        onReading: (reading) => {
          count(reading);
          boundary.offer(reading, apply);
        },
      },
    );

  const data = await graphql(
    api,
    `
      query DashboardCity {
        intersections {
          id
          counters {
            id
            latest {
              time
            }
          }
          traffic(from: "-24h", every: "10min") {
            time
            vehicles
            pedestrians
          }
        }
        parkingLots {
          id
          name
          capacity
          occupied
          updatedAt
          sensor {
            id
          }
        }
      }
    `,
  );
  /** @type {Map<string, number>} */
  const until = new Map();
  const history = data.intersections.find((/** @type {{ id: string }} */ i) => i.id === intersection?.id);
  if (history) {
    $('intersection-name').textContent = intersection.name;
    for (const c of history.counters) until.set(c.id, c.latest ? Date.parse(c.latest.time) : -Infinity);
    traffic = new BucketChart($('chart-traffic'), {
      bucketMs: tenMinutes,
      windowMs: day,
      combine: 'sum',
      series: [
        { key: 'vehicles', label: 'vehicles', stroke: '#2f6fdf', bars: 0.8 },
        { key: 'pedestrians', label: 'pedestrians', stroke: '#e0791a', bars: 0.4 },
      ],
    });
    for (const b of history.traffic) {
      traffic.setBucket('vehicles', Date.parse(b.time), b.vehicles, 1);
      traffic.setBucket('pedestrians', Date.parse(b.time), b.pedestrians, 1);
    }
    const now = history.traffic.find((/** @type {{ time: string }} */ b) => Date.parse(b.time) === traffic?.bucketOf(Date.now()));
    if (now) {
      $('traffic-vehicles').textContent = String(now.vehicles);
      $('traffic-pedestrians').textContent = String(now.pedestrians);
    }
  }
  for (const lot of data.parkingLots) {
    const state = { id: lot.id, name: lot.name, capacity: lot.capacity, occupied: lot.occupied, updatedAt: lot.updatedAt };
    lotBySensor.set(lot.sensor.id, state);
    until.set(lot.sensor.id, lot.updatedAt ? Date.parse(lot.updatedAt) : -Infinity);
    drawLot(state);
  }
  boundary.open(until, apply);
}

/** @type {ReturnType<typeof showRooms> | null} */
let rooms = null;
/** @type {ReturnType<typeof showActuators> | null} */
let actuators = null;
/** @type {BucketChart | undefined} */
let traffic;
/** @type {string | null} */
let shownGateway = null;
/** @type {Map<string, { id: string, name: string }>} */
let gatewaysById = new Map();

const gatewayList = new GatewayList(
  {
    counts: $('gateway-counts'),
    search: /** @type {HTMLInputElement} */ ($('gateway-search')),
    list: $('gateways'),
    pageLabel: $('gateways-page'),
    previous: /** @type {HTMLButtonElement} */ ($('gateways-previous')),
    next: /** @type {HTMLButtonElement} */ ($('gateways-next')),
  },
  { onChoose: (id) => showGateway(id) },
);

/** Shows the rooms and the mesh of one of the caller's gateways, and names it in the address. */
function showGateway(/** @type {string} */ id) {
  if (id === shownGateway) return;
  shownGateway = id;
  gatewayList.choose(id);
  const gateway = gatewaysById.get(id);
  $('gateway-title').textContent = gateway ? `${gateway.name} (${gateway.id})` : id;
  $('mesh-gateway').textContent = id;
  $('actuators-gateway').textContent = id;
  const url = new URL(location.href);
  url.searchParams.set('gateway', id);
  history.replaceState(null, '', url);
  rooms?.stop();
  rooms = null;
  if (seesRooms) {
    const shown = showRooms({ api, client, gatewayId: id, onReading: count });
    rooms = shown;
    shown.ready.catch(showProblem);
  }
  actuators?.stop();
  actuators = showActuators({ api, client, gatewayId: id });
  actuators.ready.catch(showProblem);
  showMesh(id).catch(showProblem);
}

async function refreshGateways() {
  const { gateways } = await graphql(
    api,
    `
      query DashboardGateways {
        gateways {
          id
          name
          status
          lastSeen
        }
      }
    `,
  );
  gatewaysById = new Map(gateways.map((/** @type {{ id: string, name: string }} */ g) => [g.id, g]));
  gatewayList.set(gateways);
  return gatewayList.gateways;
}

async function showMesh(/** @type {string} */ id) {
  const { gateway } = await graphql(
    api,
    `
      query DashboardMesh($id: ID!) {
        gateway(id: $id) {
          id
          mesh {
            size
            coordinator {
              address
            }
            nodes {
              address
              role
              parent {
                address
              }
              hops
              name
              room
            }
          }
        }
      }
    `,
    { id },
  );
  if (id !== shownGateway) return;
  if (!gateway?.mesh) {
    // A gateway whose daemon never answered has no known mesh (the API says why, in the console).
    const note = document.createElement('p');
    note.className = 'last';
    note.textContent = 'Not known: the gateway has not reported its mesh.';
    $('mesh').replaceChildren(note);
    $('mesh-summary').textContent = '';
    return;
  }
  const { nodes, maxHops } = renderMesh($('mesh'), gateway.mesh);
  $('mesh-summary').textContent = `(coordinator + ${nodes} nodes, up to ${maxHops} hops)`;
}

async function startGateways() {
  const gateways = await refreshGateways();
  const asked = params.get('gateway');
  // The gateway the address names if the caller has it, else the caller's first.
  const first = gateways.find((g) => g.id === asked) ?? gateways[0];
  if (first) showGateway(first.id);
  else {
    $('rooms-empty').hidden = false;
    $('rooms-body').hidden = true;
    $('rooms-empty').textContent = 'No gateways yet.';
  }
  setInterval(() => refreshGateways().catch((error) => console.warn('gateways', error)), 15_000);
}

/** The actuators granted to a caller who reads no gateways, shown when there are some. */
async function startGrantedActuators() {
  $('actuators-heading').textContent = 'Actuators granted to you';
  actuators = showActuators({ api, client, gatewayId: null });
  if (!(await actuators.ready)) return;
  $('actuators-panel').hidden = false;
  $('open-data-note').textContent = 'Open data (traffic and parking), and the actuators granted to you.';
}

startCity().catch(showProblem);
if (seesGateways) startGateways().catch(showProblem);
else if (seesGrantedActuators) startGrantedActuators().catch(showProblem);
