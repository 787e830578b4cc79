// The IQRF mesh of a gateway as a tree in SVG: the coordinator on the left, each node one column
// further right than the node it routes through, leaves one row each. Drawn at its natural size
// (1 unit = 1 CSS pixel, so labels keep the page's font size whatever the mesh's size: 5 nodes
// are not blown up, 240 not shrunk), in a box that scrolls when the tree is larger than it.
import { roomLabel } from './format.js';

/**
 * @typedef {{ address: number, role: string, parent: { address: number } | null, hops: number, name: string | null, room: string | null }} MeshNode
 * @typedef {{ size: number, coordinator: { address: number }, nodes: MeshNode[] }} Mesh
 */

const svgNs = 'http://www.w3.org/2000/svg';
const font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const row = 20;
const minColumn = 56;
/** Room between a label's end and the next column's node. */
const gutter = 22;
const margin = { top: 26, left: 16, right: 12, bottom: 12 };
/** Where a label starts right of its node's centre. */
const labelOffset = 10;

/** @param {string} tag @param {Record<string, string | number>} attributes */
function svg(tag, attributes = {}) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** @type {CanvasRenderingContext2D | null} */
let measuring = null;
function textWidth(/** @type {string} */ text) {
  measuring ??= /** @type {CanvasRenderingContext2D} */ (document.createElement('canvas').getContext('2d'));
  measuring.font = font;
  return measuring.measureText(text).width;
}

/**
 * Draws `mesh` into `container` (replacing what was there). Each node is a `g.mesh-node` with
 * `data-address`, `data-role` and `data-hops`; its label is its address, with its room where it
 * has one.
 * @param {HTMLElement} container
 * @param {Mesh} mesh
 * @returns {{ nodes: number, maxHops: number }}
 */
export function renderMesh(container, mesh) {
  const root = mesh.coordinator.address;
  /** @type {Map<number, number[]>} */
  const children = new Map([[root, []]]);
  const known = new Set([root, ...mesh.nodes.map((n) => n.address)]);
  for (const node of mesh.nodes) children.set(node.address, children.get(node.address) ?? []);
  for (const node of mesh.nodes) {
    // A node whose parent the daemon did not report hangs off the coordinator.
    const parent = node.parent && known.has(node.parent.address) && node.parent.address !== node.address ? node.parent.address : root;
    /** @type {number[]} */ (children.get(parent)).push(node.address);
  }
  for (const list of children.values()) list.sort((a, b) => a - b);

  /** @type {Map<number, { y: number, depth: number }>} */
  const position = new Map();
  let nextRow = 0;
  let maxDepth = 0;
  const seen = new Set();
  // Depth-first: leaves take the next row, a parent sits in the middle of its children.
  const place = (/** @type {number} */ address, /** @type {number} */ depth) => {
    seen.add(address);
    maxDepth = Math.max(maxDepth, depth);
    const kids = (children.get(address) ?? []).filter((a) => !seen.has(a));
    let y;
    if (kids.length === 0) y = nextRow++;
    else {
      const ys = kids.map((kid) => place(kid, depth + 1));
      y = (Math.min(...ys) + Math.max(...ys)) / 2;
    }
    position.set(address, { y, depth });
    return y;
  };
  place(root, 0);
  // Nodes in a parent cycle were not reached from the coordinator: put them on rows of their own.
  for (const node of mesh.nodes) if (!seen.has(node.address)) place(node.address, 1);

  const byAddress = new Map(mesh.nodes.map((n) => [n.address, n]));
  const labelOf = (/** @type {number} */ address) => {
    if (address === root) return 'coordinator';
    const room = byAddress.get(address)?.room;
    return room ? `${address} · ${roomLabel(room)}` : String(address);
  };
  // Each column as wide as the longest label in it, so that no label reaches the next column.
  const columnWidth = Array.from({ length: maxDepth + 1 }, () => minColumn);
  for (const [address, p] of position)
    columnWidth[p.depth] = Math.max(columnWidth[p.depth] ?? 0, labelOffset + textWidth(labelOf(address)) + gutter);
  const columnX = [margin.left];
  for (let depth = 1; depth <= maxDepth + 1; depth++) columnX[depth] = (columnX[depth - 1] ?? 0) + (columnWidth[depth - 1] ?? minColumn);
  const width = Math.ceil((columnX[maxDepth + 1] ?? 0) - gutter + margin.right);
  const height = margin.top + Math.max(nextRow - 1, 0) * row + margin.bottom;
  const px = (/** @type {{ depth: number }} */ p) => columnX[p.depth] ?? 0;
  const py = (/** @type {{ y: number }} */ p) => margin.top + p.y * row;

  const drawing = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `IQRF mesh, ${mesh.nodes.length} nodes`,
  });
  drawing.style.font = font;
  const legend = svg('g', { class: 'legend' });
  for (let hops = 0; hops <= maxDepth; hops++) {
    const label = svg('text', { x: columnX[hops] ?? 0, y: 11, 'text-anchor': hops === 0 ? 'start' : 'middle' });
    label.textContent = hops === 0 ? 'hops 0' : String(hops);
    if (hops === 0) label.setAttribute('x', String(margin.left - 6));
    legend.append(label);
  }
  drawing.append(legend);

  const edges = svg('g');
  for (const [parent, kids] of children) {
    const from = position.get(parent);
    if (!from) continue;
    for (const kid of kids) {
      const to = position.get(kid);
      if (!to) continue;
      const midX = (px(from) + px(to)) / 2;
      edges.append(
        svg('path', { class: 'edge', d: `M${px(from)},${py(from)} C${midX},${py(from)} ${midX},${py(to)} ${px(to)},${py(to)}` }),
      );
    }
  }
  drawing.append(edges);

  for (const [address, p] of position) {
    const node = byAddress.get(address);
    const role = node?.role ?? 'COORDINATOR';
    const group = svg('g', {
      class: 'mesh-node',
      'data-address': address,
      'data-role': role,
      'data-hops': node?.hops ?? 0,
      transform: `translate(${px(p)},${py(p)})`,
    });
    group.append(svg('circle', { r: role === 'COORDINATOR' ? 7 : 5.5 }));
    // Beside the node, over its outgoing edges (a halo keeps it readable).
    const label = svg('text', { x: labelOffset, y: 0, 'dominant-baseline': 'central' });
    label.textContent = labelOf(address);
    group.append(label);
    const title = svg('title');
    title.textContent = !node
      ? `coordinator (address ${address})`
      : role === 'HOP'
        ? // Another customer's node on a shared gateway: the API tells its place in the tree, nothing else.
          `another customer's node (address ${address}, a routing hop, ${node.hops} hops)`
        : `${node.name ?? `node ${address}`} (address ${address}, ${role.toLowerCase()}, ${node.hops} hops${node.room ? `, ${roomLabel(node.room)}` : ''})`;
    group.append(title);
    drawing.append(group);
  }
  container.replaceChildren(drawing);
  return { nodes: mesh.nodes.length, maxHops: Math.max(0, ...mesh.nodes.map((n) => n.hops)) };
}
