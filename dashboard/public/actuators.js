// The actuators of one gateway (relays, ventilation, street lights), grouped by room or street:
// each one's state as its gateway's daemon reported it, whether that is confirmed, and for a
// caller allowed to (`canCommand`) controls to switch a relay or set a light's level. Commands
// wait for the daemon's word: a confirmation is shown with the state before it, a command left
// unanswered as a warning, never as if done. Everything that happens to them, whoever asked,
// arrives live from `actuatorEvents`. One view per gateway shown; choosing another stops it. A
// caller who reads no gateways (a partner's API key) sees the actuators granted to it instead.
import { graphql, graphqlResponse, resumableSubscription } from './api.js';
import { $, render } from './dom.js';
import { naturalOrder, placeLabel, timeOfDay, when } from './format.js';

/**
 * @typedef {'BINARY_OUTPUT' | 'LIGHT'} ActuatorKind
 * @typedef {'CONFIRMED' | 'UNCONFIRMED' | 'UNKNOWN'} StateStatus
 * @typedef {{ on: boolean | null, level: number | null, status: StateStatus, confirmedAt: string | null }} ActuatorState
 * @typedef {{
 *   id: string, outcome: 'PENDING' | 'CONFIRMED' | 'UNCONFIRMED' | 'FAILED' | 'REFUSED', requestedBy: string,
 *   on: boolean | null, level: number | null, durationSeconds: number | null, previous: ActuatorState | null,
 *   finishedAt: string | null, errorCode: string | null, error: string | null
 * }} ActuatorCommand
 * @typedef {{ id: string, name: string, kind: ActuatorKind, index: number, room: string | null, state: ActuatorState, canCommand: boolean }} ActuatorData
 * @typedef {{ cursor: string, kind: string, time: string, actuator: { id: string }, command: ActuatorCommand | null, state: ActuatorState | null }} ActuatorEvent
 * @typedef {{ on: boolean } | { level: number }} Target
 * @typedef {{ target: Target, key: string }} Intent
 * @typedef {ActuatorData & { element: HTMLElement, busy: boolean, editing: boolean, intent: Intent | null }} Shown
 */

const stateFields = 'on level status confirmedAt';
const commandFields = `id outcome requestedBy on level durationSeconds previous { ${stateFields} } finishedAt errorCode error`;
/** Why a control is disabled: said in its title and once under the panel's heading. */
const mayNotCommand = 'You may not command this actuator: it needs the actuators:write scope and a grant from its tenant.';
const logLength = 15;

/**
 * Starts the actuators panel: of `gatewayId` (a tenant's page, an operator's), or with
 * `gatewayId: null` of the actuators granted to the caller on any gateway (`Query.actuators`: a
 * partner's API key). Subscribes to their events first (held back), reads the actuators, then
 * applies the events in the order they were recorded. `ready` says whether there is any to show.
 * @param {{ api: string, client: import('graphql-ws').Client, gatewayId: string | null }} options
 * @returns {{ stop: () => void, ready: Promise<boolean> }}
 */
export function showActuators({ api, client, gatewayId }) {
  let stopped = false;
  /** @type {Map<string, Shown>} */
  const shown = new Map();
  /** Events that came before the actuators were read; null once they were. */
  let held = /** @type {ActuatorEvent[] | null} */ ([]);
  let stopEvents = () => {};
  const container = $('actuators');
  const log = $('actuator-log');
  container.replaceChildren();
  log.replaceChildren();
  $('actuators-summary').textContent = '';
  $('actuators-note').hidden = true;
  /** Its room or street, and its gateway when the panel shows several. */
  const place = (/** @type {ActuatorData} */ actuator) =>
    gatewayId ? groupOf(actuator) : `${groupOf(actuator)} · ${gatewayOf(actuator.id)}`;

  /** Follows the events of the gateway, or of the actuators listed. */
  function follow(/** @type {string[]} */ actuatorIds) {
    const onEvent = (/** @type {ActuatorEvent} */ event) => {
      if (stopped) return;
      if (held) held.push(event);
      else applyEvent(event);
    };
    const fields = `cursor kind time actuator { id } command { ${commandFields} } state { ${stateFields} }`;
    stopEvents = resumableSubscription(
      client,
      gatewayId
        ? `subscription DashboardActuatorEvents($gatewayId: ID!, $after: String) {
            actuatorEvents(gatewayId: $gatewayId, after: $after) { ${fields} }
          }`
        : `subscription DashboardGrantedActuatorEvents($actuatorIds: [ID!]!, $after: String) {
            actuatorEvents(actuatorIds: $actuatorIds, after: $after) { ${fields} }
          }`,
      gatewayId ? { gatewayId } : { actuatorIds },
      'actuatorEvents',
      // Events missed for longer than the live bus keeps them: the state is read again.
      { onEvent, onGap: () => load().catch((error) => console.error(error)) },
    );
  }

  /**
   * The actuators and their state: null when not known (a gateway that never reported its mesh).
   * The actuators granted to a caller are asked without a word in the console when refused (an
   * API key without `actuators:write` has none: the panel is not shown).
   * @returns {Promise<ActuatorData[] | null>}
   */
  async function read() {
    const fields = `id name kind index room canCommand state { ${stateFields} }`;
    if (gatewayId) {
      const { gateway } = await graphql(api, `query DashboardActuators($id: ID!) { gateway(id: $id) { id actuators { ${fields} } } }`, {
        id: gatewayId,
      });
      return gateway?.actuators ?? null;
    }
    const { data } = await graphqlResponse(api, `query DashboardGrantedActuators { actuators { ${fields} } }`);
    return data?.actuators ?? [];
  }

  /** Reads the actuators and their state, then lets the events held meanwhile through. */
  async function load() {
    held ??= [];
    const actuators = await read();
    if (stopped) return;
    draw(actuators);
    const events = held;
    held = null;
    for (const event of events) applyEvent(event);
  }

  async function start() {
    if (gatewayId) follow([]);
    else {
      // Which actuators first, to follow their events before their state is read (again).
      const granted = await read();
      if (stopped || !granted?.length) return false;
      follow(granted.map((a) => a.id));
    }
    await load();
    return shown.size > 0;
  }

  /** Draws the panel anew: one group per room (or node without one), its actuators in index order. */
  function draw(/** @type {ActuatorData[] | null} */ actuators) {
    shown.clear();
    if (!actuators || actuators.length === 0) {
      const note = document.createElement('p');
      note.className = 'last';
      note.textContent = actuators ? 'No actuators on this gateway.' : 'Not known: the gateway has not reported its actuators.';
      container.replaceChildren(note);
      $('actuators-summary').textContent = '';
      return;
    }
    /** @type {Map<string, ActuatorData[]>} */
    const groups = new Map();
    for (const actuator of actuators) {
      const where = place(actuator);
      groups.set(where, [...(groups.get(where) ?? []), actuator]);
    }
    container.replaceChildren(
      ...[...groups.keys()].sort(naturalOrder).map((where) => {
        const group = document.createElement('section');
        group.className = 'actuator-group';
        group.dataset.group = where;
        const heading = document.createElement('h3');
        heading.textContent = where;
        group.append(heading);
        const members = /** @type {ActuatorData[]} */ (groups.get(where)).sort(
          (a, b) => nodeOf(a.id) - nodeOf(b.id) || a.kind.localeCompare(b.kind) || a.index - b.index,
        );
        for (const actuator of members) {
          const entry = /** @type {Shown} */ ({ ...actuator, element: row(actuator), busy: false, editing: false, intent: null });
          shown.set(actuator.id, entry);
          group.append(entry.element);
          drawState(entry);
        }
        return group;
      }),
    );
    $('actuators-note').hidden = actuators.some((a) => a.canCommand);
    summarise();
  }

  /** One actuator's row: its name and kind, state, status, controls and the last command's outcome. */
  function row(/** @type {ActuatorData} */ actuator) {
    const element = document.createElement('div');
    element.className = 'actuator';
    element.dataset.actuator = actuator.id;
    element.dataset.kind = actuator.kind;
    const label = `${actuator.name}, ${place(actuator)}`;
    element.innerHTML = `
      <div class="what"><strong class="name"></strong> <small class="kind"></small></div>
      <div class="now"><span class="state"></span> <span class="status"></span></div>
      <div class="controls"></div>
      <p class="outcome" role="status" aria-live="polite"></p>`;
    /** @type {HTMLElement} */ (element.querySelector('.name')).textContent = actuator.name;
    /** @type {HTMLElement} */ (element.querySelector('.kind')).textContent = actuator.kind === 'LIGHT' ? 'light' : 'relay';
    const controls = /** @type {HTMLElement} */ (element.querySelector('.controls'));
    if (!actuator.canCommand) controls.title = mayNotCommand;
    if (actuator.kind === 'BINARY_OUTPUT') {
      for (const on of [true, false]) {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.on = String(on);
        button.textContent = on ? 'On' : 'Off';
        button.setAttribute('aria-label', `Switch ${label} ${on ? 'on' : 'off'}`);
        button.addEventListener('click', () => command(actuator.id, { on }));
        controls.append(button);
      }
    } else {
      const slider = document.createElement('input');
      slider.type = 'range';
      slider.min = '0';
      slider.max = '100';
      slider.step = '5';
      slider.setAttribute('aria-label', `Level of ${label} (%)`);
      const output = document.createElement('output');
      const entry = () => shown.get(actuator.id);
      // The level follows the slider while it is dragged, and is sent once it is let go.
      slider.addEventListener('input', () => {
        const current = entry();
        if (current) current.editing = true;
        output.textContent = `${slider.value} %`;
      });
      slider.addEventListener('change', () => {
        const current = entry();
        if (current) current.editing = false;
        command(actuator.id, { level: Number(slider.value) });
      });
      controls.append(slider, output);
    }
    return element;
  }

  /** Writes an actuator's state, status and controls as they are now. */
  function drawState(/** @type {Shown} */ actuator) {
    const { element, state } = actuator;
    element.dataset.status = state.status;
    /** @type {HTMLElement} */ (element.querySelector('.state')).textContent = stateText(actuator.kind, state);
    const status = /** @type {HTMLElement} */ (element.querySelector('.status'));
    status.dataset.status = state.status;
    status.textContent = statusText(state);
    const disabled = !actuator.canCommand || actuator.busy;
    const why = !actuator.canCommand ? mayNotCommand : actuator.busy ? 'A command is under way: wait for its outcome.' : '';
    for (const button of element.querySelectorAll('button')) {
      button.disabled = disabled;
      button.title = why;
      // Which position it is in, for assistive technology too (not by colour alone).
      button.setAttribute('aria-pressed', String(state.on !== null && String(state.on) === button.dataset.on));
    }
    const slider = /** @type {HTMLInputElement | null} */ (element.querySelector('input[type="range"]'));
    if (slider) {
      slider.disabled = disabled;
      slider.title = why;
      if (!actuator.editing && !actuator.busy) {
        slider.value = String(state.level ?? 0);
        /** @type {HTMLElement} */ (element.querySelector('output')).textContent = state.level === null ? '' : `${state.level} %`;
      }
    }
  }

  function summarise() {
    render(`actuators-summary:${gatewayId ?? 'granted'}`, () => {
      if (stopped) return;
      const all = [...shown.values()];
      const on = all.filter((a) => (a.kind === 'LIGHT' ? (a.state.level ?? 0) > 0 : a.state.on === true)).length;
      const unconfirmed = all.filter((a) => a.state.status === 'UNCONFIRMED').length;
      $('actuators-summary').textContent =
        `(${all.length} actuator${all.length === 1 ? '' : 's'}, ${on} on${unconfirmed ? `, ${unconfirmed} unconfirmed` : ''})`;
    });
  }

  /** An event: its state replaces the actuator's, its command is the actuator's last outcome, and it goes into the log. */
  function applyEvent(/** @type {ActuatorEvent} */ event) {
    const actuator = shown.get(event.actuator.id);
    if (!actuator) return;
    if (event.state) {
      actuator.state = event.state;
      drawState(actuator);
      summarise();
    }
    if (event.command && event.kind !== 'COMMANDED') showOutcome(actuator, commandOutcome(actuator, event.command));
    logEvent(actuator, event);
  }

  function logEvent(/** @type {Shown} */ actuator, /** @type {ActuatorEvent} */ event) {
    const item = document.createElement('li');
    item.dataset.kind = event.kind;
    item.dataset.actuator = actuator.id;
    const time = document.createElement('time');
    time.dateTime = event.time;
    time.textContent = timeOfDay(event.time);
    item.append(time, ` ${actuator.name}, ${place(actuator)}: ${eventText(actuator, event)}`);
    log.prepend(item);
    while (log.children.length > logLength) log.lastElementChild?.remove();
  }

  /**
   * Sends one command and shows its outcome. The controls of the actuator are disabled until it
   * is known, so a double click sends nothing twice; the idempotency key stays the same for a
   * retry of the same command (an answer lost on the network, the same button again), so the
   * platform carries it out once and answers the retry with the first outcome.
   */
  async function command(/** @type {string} */ id, /** @type {Target} */ target) {
    const actuator = shown.get(id);
    if (!actuator || actuator.busy || !actuator.canCommand) return;
    const intent =
      actuator.intent && JSON.stringify(actuator.intent.target) === JSON.stringify(target)
        ? actuator.intent
        : { target, key: crypto.randomUUID() };
    actuator.intent = intent;
    actuator.busy = true;
    drawState(actuator);
    showOutcome(actuator, {
      tone: 'pending',
      text: `${'on' in target ? `Switching ${target.on ? 'on' : 'off'}` : `Setting ${target.level} %`}…`,
    });
    try {
      const outcome = await send(actuator, intent);
      // A definite answer (done, refused, unconfirmed): the next click is a new command.
      actuator.intent = null;
      showOutcome(actuator, outcome);
    } catch (error) {
      // No answer at all: it may have been carried out; the same command again reuses the key.
      console.warn('actuator command', error);
      showOutcome(actuator, {
        tone: 'warn',
        text: `⚠ No answer from the platform (${error instanceof Error ? error.message : String(error)}): it may or may not have been carried out. The same command again is safe: it is not carried out twice.`,
      });
    } finally {
      actuator.busy = false;
      if (shown.get(id) === actuator) drawState(actuator);
    }
  }

  /** @returns {Promise<{ tone: string, text: string }>} */
  async function send(/** @type {Shown} */ actuator, /** @type {Intent} */ intent) {
    const mutation =
      'on' in intent.target
        ? `mutation DashboardSwitchActuator($input: SwitchActuatorInput!) {
            result: switchActuator(input: $input) {
              actuator { id state { ${stateFields} } }
              command { ${commandFields} }
              userErrors { code message }
            }
          }`
        : `mutation DashboardSetLightLevel($input: SetLightLevelInput!) {
            result: setLightLevel(input: $input) {
              actuator { id state { ${stateFields} } }
              command { ${commandFields} }
              userErrors { code message }
            }
          }`;
    const input = { actuatorId: actuator.id, ...intent.target, idempotencyKey: intent.key };
    for (let attempt = 1; ; attempt++) {
      let response;
      try {
        response = await graphqlResponse(api, mutation, { input });
      } catch (error) {
        // The network, once or twice: the same key again.
        if (attempt >= 3) throw error;
        await pause(1_000 * attempt);
        continue;
      }
      const result = response.data?.result;
      const errors = [...(result?.userErrors ?? []), ...response.errors.map((e) => ({ ...e, code: e.extensions?.code }))];
      // The first request with this key still runs (a retry overtook it): its outcome comes to the next ask.
      if (errors.some((e) => e.code === 'IDEMPOTENCY_KEY_IN_USE') && attempt < 15) {
        await pause(1_000);
        continue;
      }
      if (errors.length > 0 || !result?.command) return refusal(actuator, errors);
      const state = result.actuator?.state;
      const confirmedAt = (/** @type {ActuatorState} */ s) => (s.confirmedAt ? Date.parse(s.confirmedAt) : -Infinity);
      // An event may have brought a newer state meanwhile: an older one does not replace it.
      if (!stopped && state && confirmedAt(state) >= confirmedAt(actuator.state)) {
        actuator.state = state;
        drawState(actuator);
        summarise();
      }
      return commandOutcome(actuator, result.command);
    }
  }

  function showOutcome(/** @type {Shown} */ actuator, /** @type {{ tone: string, text: string }} */ { tone, text }) {
    if (stopped) return;
    const outcome = /** @type {HTMLElement} */ (actuator.element.querySelector('.outcome'));
    outcome.dataset.tone = tone;
    outcome.textContent = text;
  }

  const ready = start();
  return {
    stop: () => {
      stopped = true;
      stopEvents();
    },
    ready,
  };
}

/** The heading an actuator is shown under: its room or street, else its node. */
function groupOf(/** @type {{ id: string, room: string | null }} */ actuator) {
  return actuator.room ? placeLabel(actuator.room) : `node ${nodeOf(actuator.id)}`;
}

/** The gateway in an actuator id. */
function gatewayOf(/** @type {string} */ id) {
  return id.split('.')[0] ?? '';
}

/** The node address in an actuator id (`<gatewayId>.<address>.output<index>`). */
function nodeOf(/** @type {string} */ id) {
  return Number(id.split('.').at(-2));
}

/** `on`, `off`, `40 %`, or `unknown`. */
function stateText(/** @type {ActuatorKind} */ kind, /** @type {Pick<ActuatorState, 'on' | 'level'>} */ state) {
  if (kind === 'LIGHT') return state.level === null || state.level === undefined ? 'unknown' : `${state.level} %`;
  return state.on === null || state.on === undefined ? 'unknown' : state.on ? 'on' : 'off';
}

/** The status in words with a sign, so it is not told by colour alone. */
function statusText(/** @type {ActuatorState} */ state) {
  if (state.status === 'CONFIRMED') return `✓ confirmed${state.confirmedAt ? ` ${when(state.confirmedAt)}` : ''}`;
  // What was last confirmed stays shown: the command's outcome under it says what was not answered.
  if (state.status === 'UNCONFIRMED') return `⚠ unconfirmed${state.confirmedAt ? ` (last confirmed ${when(state.confirmedAt)})` : ''}`;
  return '? unknown (never reported)';
}

/** What was asked, in words: `on`, `off for 60 s`, `40 %`. */
function asked(/** @type {ActuatorKind} */ kind, /** @type {ActuatorCommand} */ command) {
  const what = stateText(kind, command);
  return command.durationSeconds ? `${what} for ${command.durationSeconds} s` : what;
}

/** A command's outcome as a row shows it. */
function commandOutcome(/** @type {{ kind: ActuatorKind }} */ actuator, /** @type {ActuatorCommand} */ command) {
  const target = asked(actuator.kind, command);
  switch (command.outcome) {
    case 'CONFIRMED':
      return {
        tone: 'ok',
        text: `✓ ${target}: confirmed by the gateway${command.finishedAt ? ` at ${timeOfDay(command.finishedAt)}` : ''}${
          command.previous ? ` (was ${stateText(actuator.kind, command.previous)})` : ''
        }.`,
      };
    case 'UNCONFIRMED':
      return {
        tone: 'warn',
        text: `⚠ ${target}: not confirmed. The node did not answer in time: it may or may not have done it; the state shown is the last confirmed.`,
      };
    case 'PENDING':
      return { tone: 'pending', text: `${target}: sent, waiting for the node…` };
    default:
      return {
        tone: 'error',
        text: `✗ ${target}: ${command.outcome === 'REFUSED' ? 'refused' : 'failed'}. ${errorText(command.errorCode, command.error)}`,
      };
  }
}

/** Errors of a command (a user error or a refusal of the whole request) as a row shows them. */
function refusal(
  /** @type {{ name: string }} */ actuator,
  /** @type {ReadonlyArray<{ code?: string, message: string, extensions?: Record<string, any> }>} */ errors,
) {
  const [first] = errors;
  if (!first) return { tone: 'error', text: '✗ No outcome came back.' };
  if (first.code === 'FORBIDDEN') return { tone: 'error', text: `✗ Not allowed: you have no grant to command ${actuator.name}.` };
  if (first.code === 'RATE_LIMITED') {
    const retry = first.extensions?.retryAfterSeconds;
    return { tone: 'error', text: `✗ Too many commands: ${first.message}${typeof retry === 'number' ? ` (retry in ${retry} s)` : ''}` };
  }
  return { tone: 'error', text: `✗ ${errorText(first.code ?? null, first.message)}` };
}

/** A refusal or failure in words, by its code. */
function errorText(/** @type {string | null} */ code, /** @type {string | null} */ message) {
  const detail = message ?? '';
  switch (code) {
    case 'FORBIDDEN':
      return `Not allowed: ${detail || 'no grant for this actuator.'}`;
    case 'RATE_LIMITED':
      return `Too many commands: ${detail}`;
    case 'GATEWAY_TIMEOUT':
      return `The gateway did not answer in time. ${detail}`;
    case 'GATEWAY_UNAVAILABLE':
      return `The gateway is not reachable now. ${detail}`;
    case 'GATEWAY_ERROR':
      return `The gateway refused it. ${detail}`;
    case 'UNAUTHENTICATED':
      return 'Your sign-in is not valid any more: open the dashboard with a new link.';
    default:
      return detail || code || 'unknown error';
  }
}

/** An event in the log's words. */
function eventText(/** @type {{ kind: ActuatorKind }} */ actuator, /** @type {ActuatorEvent} */ event) {
  const command = event.command;
  const by = command ? ` (by ${command.requestedBy})` : '';
  const target = command ? asked(actuator.kind, command) : '';
  switch (event.kind) {
    case 'COMMANDED':
      return `${target} asked${by}`;
    case 'CONFIRMED':
      return `✓ ${target} confirmed${command?.previous ? `, was ${stateText(actuator.kind, command.previous)}` : ''}${by}`;
    case 'UNCONFIRMED':
      return `⚠ ${target} not confirmed: no answer in time${by}`;
    case 'FAILED':
      return `✗ ${target} failed: ${errorText(command?.errorCode ?? null, command?.error ?? null)}${by}`;
    case 'REFUSED':
      return `✗ ${target} refused: ${errorText(command?.errorCode ?? null, command?.error ?? null)}${by}`;
    case 'STATE_CHANGED':
      return `now ${event.state ? stateText(actuator.kind, event.state) : 'changed'} (read from the node)`;
    default:
      return event.kind.toLowerCase();
  }
}

function pause(/** @type {number} */ ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
