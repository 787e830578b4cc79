// The caller's gateways: how many are online, offline or being provisioned, and a list a page at a
// time that a search narrows (by id or name); choosing one shows its rooms and mesh.
import { dayAndTime, naturalOrder } from './format.js';

/**
 * @typedef {{ id: string, name: string, status: string, lastSeen: string | null }} GatewaySummary
 */

const statuses = ['ONLINE', 'OFFLINE', 'PROVISIONING'];

export class GatewayList {
  /**
   * @param {{ counts: HTMLElement, search: HTMLInputElement, list: HTMLElement, pageLabel: HTMLElement, previous: HTMLButtonElement, next: HTMLButtonElement }} elements
   * @param {{ pageSize?: number, onChoose: (id: string) => void }} options
   */
  constructor(elements, { pageSize = 10, onChoose }) {
    this.elements = elements;
    this.pageSize = pageSize;
    this.onChoose = onChoose;
    /** @type {GatewaySummary[]} */
    this.gateways = [];
    this.page = 0;
    /** @type {string | null} */
    this.current = null;
    elements.search.addEventListener('input', () => {
      this.page = 0;
      this.draw();
    });
    elements.previous.addEventListener('click', () => this.turn(-1));
    elements.next.addEventListener('click', () => this.turn(1));
    elements.list.addEventListener('click', (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest('button[data-gateway]');
      if (button instanceof HTMLElement && button.dataset.gateway) this.onChoose(button.dataset.gateway);
    });
    // Enter in the search box chooses the first match.
    elements.search.addEventListener('keydown', (event) => {
      const first = this.matches()[0];
      if (event.key === 'Enter' && first) this.onChoose(first.id);
    });
  }

  /** Replaces the gateways (in natural order of their ids), keeping the search and the page. */
  set(/** @type {GatewaySummary[]} */ gateways) {
    this.gateways = [...gateways].sort((a, b) => naturalOrder(a.id, b.id));
    this.draw();
  }

  /** Marks the gateway shown, and turns to its page unless a search is under way. */
  choose(/** @type {string} */ id) {
    this.current = id;
    if (!this.elements.search.value) {
      const index = this.matches().findIndex((g) => g.id === id);
      if (index >= 0) this.page = Math.floor(index / this.pageSize);
    }
    this.draw();
  }

  turn(/** @type {number} */ by) {
    this.page += by;
    this.draw();
  }

  matches() {
    const words = this.elements.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length === 0) return this.gateways;
    return this.gateways.filter((g) => {
      const text = `${g.id} ${g.name}`.toLowerCase();
      return words.every((word) => text.includes(word));
    });
  }

  draw() {
    const { counts, list, pageLabel, previous, next } = this.elements;
    const tally = new Map(statuses.map((s) => [s, 0]));
    for (const g of this.gateways) tally.set(g.status, (tally.get(g.status) ?? 0) + 1);
    counts.replaceChildren(
      ...[...tally]
        .filter(([status, n]) => n > 0 || status !== 'PROVISIONING')
        .map(([status, n]) => {
          const span = document.createElement('span');
          span.className = 'count';
          span.dataset.status = status;
          span.textContent = `${n} ${status.toLowerCase()}`;
          return span;
        }),
    );

    const matches = this.matches();
    const pages = Math.max(1, Math.ceil(matches.length / this.pageSize));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    const shown = matches.slice(this.page * this.pageSize, (this.page + 1) * this.pageSize);
    list.replaceChildren(
      ...shown.map((g) => {
        const li = document.createElement('li');
        li.dataset.gateway = g.id;
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.gateway = g.id;
        if (g.id === this.current) button.setAttribute('aria-current', 'true');
        button.innerHTML = `<span class="names"><strong></strong> <small></small></span><span class="badge"></span>`;
        /** @type {HTMLElement} */ (button.querySelector('strong')).textContent = g.id;
        /** @type {HTMLElement} */ (button.querySelector('small')).textContent = g.name;
        const badge = /** @type {HTMLElement} */ (button.querySelector('.badge'));
        badge.dataset.status = g.status;
        badge.textContent = g.status.toLowerCase();
        badge.title = g.lastSeen ? `last seen ${dayAndTime(g.lastSeen)}` : 'not seen yet';
        li.append(button);
        return li;
      }),
    );
    if (shown.length === 0) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = this.gateways.length ? 'no gateway matches' : 'no gateways';
      list.append(li);
    }
    pageLabel.textContent = matches.length
      ? `${this.page * this.pageSize + 1}–${this.page * this.pageSize + shown.length} of ${matches.length}`
      : '0 of 0';
    previous.disabled = this.page === 0;
    next.disabled = this.page >= pages - 1;
  }
}
