// The rooms of one gateway: CO2, temperature and humidity per room over the last 24 h in 10-minute
// buckets, and each room's latest values, live. One `RoomsView` per gateway shown; choosing
// another gateway stops it and starts a new one.
import { graphql, resumableReadings } from './api.js';
import { BucketChart, palette } from './charts.js';
import { $, flash, render } from './dom.js';
import { naturalOrder, quantityFormats, roomLabel, timeOfDay } from './format.js';
import { HistoryBoundary } from './history-boundary.js';

/** @typedef {import('./api.js').Reading} Reading */
/** @typedef {'CO2' | 'TEMPERATURE' | 'HUMIDITY'} RoomQuantity */
/** @typedef {{ id: string, quantity: RoomQuantity, room: string, latest: { time: string, value: number } | null }} RoomSensor */

const day = 24 * 3600_000;
const tenMinutes = 600_000;
/** @type {readonly RoomQuantity[]} */
const roomQuantities = ['CO2', 'TEMPERATURE', 'HUMIDITY'];
const chartIds = { CO2: 'chart-co2', TEMPERATURE: 'chart-temperature', HUMIDITY: 'chart-humidity' };
/** The least range of each value axis: a steady room is drawn flat, not as noise. */
const minSpans = { CO2: 50, TEMPERATURE: 1, HUMIDITY: 5 };

/**
 * Starts the rooms of `gatewayId`: subscribes to its live readings first (held back), then reads
 * their history, then lets live readings newer than it through. Sensors with no room are not
 * rooms and are left out.
 * @param {{ api: string, client: import('graphql-ws').Client, gatewayId: string, onReading: (reading: Reading) => void }} options
 * @returns {{ stop: () => void, ready: Promise<void>, charts: () => Record<string, BucketChart> }}
 */
export function showRooms({ api, client, gatewayId, onReading }) {
  let stopped = false;
  /** @type {Record<string, BucketChart>} */
  let charts = {};
  let stopReadings = () => {};
  const stop = () => {
    stopped = true;
    stopReadings();
    for (const chart of Object.values(charts)) chart.destroy();
    charts = {};
  };

  const ready = (async () => {
    $('last-reading').textContent = '—';
    const tbody = /** @type {HTMLElement} */ ($('rooms').querySelector('tbody'));
    tbody.replaceChildren();
    const { gateway } = await graphql(
      api,
      `
        query DashboardRooms($id: ID!) {
          gateway(id: $id) {
            id
            sensors {
              id
              quantity
              room
              latest {
                time
                value
              }
            }
          }
        }
      `,
      { id: gatewayId },
    );
    if (stopped) return;
    /** @type {RoomSensor[]} */
    const sensors = (gateway?.sensors ?? []).filter(
      (/** @type {{ quantity: string, room: string | null }} */ s) =>
        roomQuantities.includes(/** @type {RoomQuantity} */ (s.quantity)) && s.room,
    );
    $('rooms-empty').hidden = sensors.length > 0;
    $('rooms-body').hidden = sensors.length === 0;
    if (sensors.length === 0) return;
    const rooms = [...new Set(sensors.map((s) => s.room))].sort(naturalOrder);
    const colours = palette(rooms.length);
    const colourOf = (/** @type {string} */ room) => colours[rooms.indexOf(room)] ?? '#888';
    const sensorById = new Map(sensors.map((s) => [s.id, s]));

    charts = Object.fromEntries(
      roomQuantities.map((quantity) => [
        quantity,
        new BucketChart($(chartIds[quantity]), {
          bucketMs: tenMinutes,
          windowMs: day,
          combine: 'avg',
          legend: false,
          minSpan: minSpans[quantity],
          series: sensors
            .filter((s) => s.quantity === quantity)
            .sort((a, b) => naturalOrder(a.room, b.room))
            .map((s) => ({ key: s.id, label: roomLabel(s.room), stroke: colourOf(s.room) })),
        }),
      ]),
    );

    tbody.replaceChildren(
      ...rooms.map((room) => {
        const tr = document.createElement('tr');
        tr.dataset.room = room;
        tr.innerHTML = `<td></td>${roomQuantities.map((q) => `<td data-quantity="${q}"></td>`).join('')}<td class="at"></td>`;
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = colourOf(room);
        /** @type {HTMLElement} */ (tr.firstElementChild).append(swatch, room);
        return tr;
      }),
    );
    /** The time of the newest value shown per room: an older one never replaces it. */
    const shownAt = new Map();
    const showLatest = (/** @type {RoomSensor} */ sensor, /** @type {number} */ value, /** @type {string} */ time) =>
      render(`latest:${sensor.id}`, () => {
        if (stopped) return;
        const row = tbody.querySelector(`tr[data-room="${CSS.escape(sensor.room)}"]`);
        const cell = row?.querySelector(`td[data-quantity="${sensor.quantity}"]`);
        if (!row || !cell) return;
        cell.textContent = quantityFormats[sensor.quantity](value);
        flash(cell);
        const at = Date.parse(time);
        if (at >= (shownAt.get(sensor.room) ?? -Infinity)) {
          shownAt.set(sensor.room, at);
          /** @type {HTMLElement} */ (row.querySelector('.at')).textContent = timeOfDay(time);
        }
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
        `
          query DashboardRoomHistory($id: ID!) {
            gateway(id: $id) {
              sensors {
                id
                latest {
                  time
                }
                avg: readings(from: "-24h", every: "10min", aggregate: AVG) {
                  time
                  value
                }
                n: readings(from: "-24h", every: "10min", aggregate: COUNT) {
                  time
                  value
                }
              }
            }
          }
        `,
        { id: gatewayId },
      );
      if (stopped) return;
      /** @type {Map<string, number>} */
      const until = new Map();
      for (const s of data.gateway?.sensors ?? []) {
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

    // Live first (held back), then history: nothing that happens in between is missed.
    stopReadings = resumableReadings(
      client,
      `subscription DashboardRoomReadings($gatewayId: ID!, $after: String) {
        readings(gatewayId: $gatewayId, after: $after) { time value cursor sensor { id } }
      }`,
      { gatewayId },
      {
        onReading: (reading) => {
          const sensor = sensorById.get(reading.sensor.id);
          if (!sensor || stopped) return;
          onReading(reading);
          showLatest(sensor, reading.value, reading.time);
          render('last-reading', () => {
            if (!stopped)
              $('last-reading').textContent =
                `${roomLabel(sensor.room)} · ${quantityFormats[sensor.quantity](reading.value)} · ${timeOfDay(reading.time)}`;
          });
          boundary.offer(reading, chart);
        },
        onGap: () => {
          boundary.close();
          loadHistory().catch((error) => console.error(error));
        },
      },
    );
    await loadHistory();
  })();
  return { stop, ready, charts: () => charts };
}
