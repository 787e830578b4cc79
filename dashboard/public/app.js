// The live city dashboard: rooms of one gateway, traffic at Kollarova x Zizkova, parking, gateway
// status and the IQRF mesh, from the GraphQL API only. `?api=<url>` names the endpoint (on this
// origin or one of DASHBOARD_API_ORIGINS; default /graphql of this origin), `?gateway=<id>` the
// gateway of the rooms (default austin-gw01).
import { apiEndpoint, graphql, liveClient, resumableReadings } from './api.js';
import { BucketChart, palette } from './charts.js';
import { renderMesh } from './mesh.js';

/** @typedef {import('./api.js').Reading} Reading */

const params = new URLSearchParams(location.search);
const api = apiEndpoint();
const gatewayId = params.get('gateway') ?? 'austin-gw01';
const intersectionName = params.get('intersection') ?? 'Kollarova x Zizkova';
const day = 24 * 3600_000;
const tenMinutes = 600_000;
const roomQuantities = /** @type {const} */ (['CO2', 'TEMPERATURE', 'HUMIDITY']);
const chartIds = { CO2: 'chart-co2', TEMPERATURE: 'chart-temperature', HUMIDITY: 'chart-humidity' };

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * What the page has received, for people (the header) and for tests: the count, and each
 * sensor's reading times (the last 5000 per sensor).
 */
const received = { count: 0, /** @type {Map<string, string[]>} */ times: new Map() };
Object.assign(window, { dashboard: { received, readingTimes: (/** @type {string} */ id) => [...(received.times.get(id) ?? [])] } });

// DOM writes are gathered and flushed a few times a second, however many readings arrive.
/** @type {Map<string, () => void>} */
const pending = new Map();
let flushTimer = 0;
function render(key, write) {
  pending.set(key, write);
  if (!flushTimer)
    flushTimer = setTimeout(() => {
      flushTimer = 0;
      const writes = [...pending.values()];
      pending.clear();
      for (const w of writes) w();
    }, 200);
}

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

const timeOfDay = (/** @type {string} */ iso) => new Date(iso).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 1 });
const formats = {
  CO2: (/** @type {number} */ v) => `${Math.round(v)} ppm`,
  TEMPERATURE: (/** @type {number} */ v) => `${v.toFixed(1)} °C`,
  HUMIDITY: (/** @type {number} */ v) => `${v.toFixed(1)} %`,
};

const client = liveClient(api, (state) =>
  render('connection', () => {
    const indicator = $('connection');
    indicator.dataset.state = state;
    indicator.textContent = state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : 'connecting…';
  }),
);

/**
 * Keeps live readings away from a chart until its history is in, then lets through only those
 * newer than what the history covered (per sensor), so no reading counts twice.
 */
class HistoryBoundary {
  constructor() {
    /** @type {Map<string, number> | null} */ this.until = null;
    /** @type {Reading[]} */ this.buffer = [];
  }
  /** @param {Reading} reading @param {(r: Reading) => void} apply */
  offer(reading, apply) {
    if (!this.until) this.buffer.push(reading);
    else if (Date.parse(reading.time) > (this.until.get(reading.sensor.id) ?? -Infinity)) apply(reading);
  }
  /** @param {Map<string, number>} until @param {(r: Reading) => void} apply */
  open(until, apply) {
    this.until = until;
    const buffered = this.buffer;
    this.buffer = [];
    for (const reading of buffered) this.offer(reading, apply);
  }
}

async function startRooms() {
  const { gateway } = await graphql(
    api,
    `query DashboardRooms($id: ID!) { gateway(id: $id) { id name sensors { id quantity unit room latest { time value } } } }`,
    { id: gatewayId },
  );
  $('gateway-title').textContent = `${gateway.name} (${gateway.id})`;
  /** @type {Array<{ id: string, quantity: 'CO2' | 'TEMPERATURE' | 'HUMIDITY', room: string | null, latest: { time: string, value: number } | null }>} */
  const sensors = gateway.sensors.filter((/** @type {{ quantity: string }} */ s) => roomQuantities.includes(/** @type {any} */ (s.quantity)));
  const rooms = [...new Set(sensors.map((s) => s.room ?? '?'))].sort();
  const colours = palette(rooms.length);
  const sensorById = new Map(sensors.map((s) => [s.id, s]));

  const charts = Object.fromEntries(
    roomQuantities.map((quantity) => [
      quantity,
      new BucketChart($(chartIds[quantity]), {
        bucketMs: tenMinutes,
        windowMs: day,
        combine: 'avg',
        legend: false,
        series: sensors
          .filter((s) => s.quantity === quantity)
          .sort((a, b) => (a.room ?? '').localeCompare(b.room ?? ''))
          .map((s) => ({ key: s.id, label: `room ${s.room}`, stroke: colours[rooms.indexOf(s.room ?? '?')] ?? '#888' })),
      }),
    ]),
  );

  const tbody = /** @type {HTMLElement} */ ($('rooms').querySelector('tbody'));
  tbody.replaceChildren(
    ...rooms.map((room) => {
      const tr = document.createElement('tr');
      tr.innerHTML = `<td></td>${roomQuantities.map((q) => `<td data-quantity="${q}"></td>`).join('')}<td class="at"></td>`;
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colours[rooms.indexOf(room)] ?? '#888';
      /** @type {HTMLElement} */ (tr.firstElementChild).append(swatch, room);
      tr.dataset.room = room;
      return tr;
    }),
  );
  const cellOf = (/** @type {{ room: string | null, quantity: string }} */ s) => tbody.querySelector(`tr[data-room="${CSS.escape(s.room ?? '?')}"] td[data-quantity="${s.quantity}"]`);
  const showLatest = (/** @type {typeof sensors[number]} */ sensor, /** @type {number} */ value, /** @type {string} */ time) =>
    render(`latest:${sensor.id}`, () => {
      const cell = cellOf(sensor);
      if (!cell) return;
      cell.textContent = formats[sensor.quantity](value);
      cell.classList.remove('fresh');
      void (/** @type {HTMLElement} */ (cell).offsetWidth);
      cell.classList.add('fresh');
      const at = cell.parentElement?.querySelector('.at');
      if (at) at.textContent = timeOfDay(time);
    });
  for (const sensor of sensors) if (sensor.latest) showLatest(sensor, sensor.latest.value, sensor.latest.time);

  const boundary = new HistoryBoundary();
  const chart = (/** @type {Reading} */ r) => {
    const sensor = sensorById.get(r.sensor.id);
    if (sensor) charts[sensor.quantity]?.add(sensor.id, Date.parse(r.time), r.value);
  };
  const loadHistory = async () => {
    const data = await graphql(
      api,
      `query DashboardRoomHistory($id: ID!) {
        gateway(id: $id) {
          sensors {
            id
            latest { time }
            avg: readings(from: "-24h", every: "10min", aggregate: AVG) { time value }
            n: readings(from: "-24h", every: "10min", aggregate: COUNT) { time value }
          }
        }
      }`,
      { id: gatewayId },
    );
    /** @type {Map<string, number>} */
    const until = new Map();
    for (const s of data.gateway.sensors) {
      const sensor = sensorById.get(s.id);
      if (!sensor) continue;
      until.set(s.id, s.latest ? Date.parse(s.latest.time) : -Infinity);
      const counts = new Map(s.n.map((/** @type {{ time: string, value: number }} */ b) => [b.time, b.value]));
      for (const b of s.avg) {
        const n = counts.get(b.time) ?? 1;
        charts[sensor.quantity]?.setBucket(s.id, Date.parse(b.time), b.value * n, n);
      }
    }
    boundary.open(until, chart);
  };

  // Live first (buffered), then history: nothing that happens in between is missed.
  resumableReadings(
    client,
    `subscription DashboardRoomReadings($gatewayId: ID!, $after: String) {
      readings(gatewayId: $gatewayId, after: $after) { time value cursor sensor { id } }
    }`,
    { gatewayId },
    {
      onReading: (reading) => {
        const sensor = sensorById.get(reading.sensor.id);
        if (!sensor) return;
        count(reading);
        showLatest(sensor, reading.value, reading.time);
        render('last-reading', () => ($('last-reading').textContent = `room ${sensor.room} · ${formats[sensor.quantity](reading.value)} · ${timeOfDay(reading.time)}`));
        boundary.offer(reading, chart);
      },
      onGap: () => {
        boundary.until = null;
        loadHistory().catch(showProblem);
      },
    },
  );
  await loadHistory();
}

async function startCity() {
  // Which sensors first, so the live stream is open (buffered) before history is read.
  const ids = await graphql(api, `query DashboardCitySensors { intersections { id name counters { id quantity } } parkingLots { id sensor { id } } }`);
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

  /** @type {BucketChart | undefined} */
  let traffic;
  const parking = $('parking');
  const drawLot = (/** @type {{ id: string, name: string, capacity: number, occupied: number | null, updatedAt: string | null }} */ lot) => {
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
    /** @type {HTMLElement} */ (card.querySelector('.bar > div')).style.width = `${Math.min(100, (100 * occupied) / Math.max(lot.capacity, 1))}%`;
    /** @type {HTMLElement} */ (card.querySelector('.numbers')).textContent =
      lot.occupied === null ? `${lot.capacity} places, no reading yet` : `${occupied} of ${lot.capacity} taken, ${Math.max(lot.capacity - occupied, 0)} free · ${lot.updatedAt ? timeOfDay(lot.updatedAt) : ''}`;
  };
  // A live reading: a counter's count goes into its 10-minute bucket, a lot's occupancy replaces the last.
  const apply = (/** @type {Reading} */ r) => {
    const kind = counterKind.get(r.sensor.id);
    if (kind && traffic) {
      const bucket = traffic.add(kind, Date.parse(r.time), r.value);
      if (bucket && traffic.bucketOf(Date.parse(r.time)) === traffic.bucketOf(Date.now())) render(`traffic-${kind}`, () => ($(`traffic-${kind}`).textContent = String(Math.round(bucket.sum))));
    }
    const lot = lotBySensor.get(r.sensor.id);
    if (lot && (!lot.updatedAt || Date.parse(r.time) >= Date.parse(lot.updatedAt))) {
      Object.assign(lot, { occupied: Math.round(r.value), updatedAt: r.time });
      render(`lot:${lot.id}`, () => drawLot(lot));
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
    `query DashboardCity {
      intersections { id counters { id latest { time } } traffic(from: "-24h", every: "10min") { time vehicles pedestrians } }
      parkingLots { id name capacity occupied updatedAt sensor { id } }
    }`,
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

async function refreshGateways() {
  const { gateways } = await graphql(api, `query DashboardGateways { gateways { id name status lastSeen } }`);
  $('gateways').replaceChildren(
    ...gateways.map((/** @type {{ id: string, name: string, status: string, lastSeen: string | null }} */ g) => {
      const li = document.createElement('li');
      li.dataset.gateway = g.id;
      li.innerHTML = `<span><strong></strong> <small></small></span><span class="badge"></span>`;
      /** @type {HTMLElement} */ (li.querySelector('strong')).textContent = g.id;
      /** @type {HTMLElement} */ (li.querySelector('small')).textContent = g.name;
      const badge = /** @type {HTMLElement} */ (li.querySelector('.badge'));
      badge.dataset.status = g.status;
      badge.textContent = g.status.toLowerCase();
      badge.title = g.lastSeen ? `last seen ${new Date(g.lastSeen).toLocaleString()}` : 'not seen yet';
      return li;
    }),
  );
  const select = /** @type {HTMLSelectElement} */ ($('mesh-gateway'));
  const ids = gateways.map((/** @type {{ id: string }} */ g) => g.id);
  if ([...select.options].map((o) => o.value).join() !== ids.join()) {
    const chosen = select.value || gatewayId;
    select.replaceChildren(...ids.map((/** @type {string} */ id) => new Option(id, id, false, id === chosen)));
  }
}

async function showMesh(/** @type {string} */ id) {
  const { gateway } = await graphql(
    api,
    `query DashboardMesh($id: ID!) { gateway(id: $id) { id mesh { size coordinator { address } nodes { address role parent { address } hops name room } } } }`,
    { id },
  );
  const { nodes, maxHops } = renderMesh($('mesh'), gateway.mesh);
  $('mesh-summary').textContent = `(coordinator + ${nodes} nodes, up to ${maxHops} hops)`;
}

$('mesh-gateway').addEventListener('change', (event) => showMesh(/** @type {HTMLSelectElement} */ (event.target).value).catch(showProblem));

startRooms().catch(showProblem);
startCity().catch(showProblem);
refreshGateways()
  .then(() => showMesh(/** @type {HTMLSelectElement} */ ($('mesh-gateway')).value || gatewayId))
  .catch(showProblem);
setInterval(() => refreshGateways().catch((error) => console.warn('gateways', error)), 15_000);
