// The IQRF mesh of a gateway as a tree in SVG: the coordinator on the left, each node one column
// further right than the node it routes through, leaves one row each.

/**
 * @typedef {{ address: number, role: string, parent: { address: number } | null, hops: number, name: string | null, room: string | null }} MeshNode
 * @typedef {{ size: number, coordinator: { address: number }, nodes: MeshNode[] }} Mesh
 */

const svgNs = 'http://www.w3.org/2000/svg';
const column = 78;
const row = 22;
const margin = { top: 28, left: 24, right: 90, bottom: 12 };

/** @param {string} tag @param {Record<string, string | number>} attributes */
function svg(tag, attributes = {}) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/**
 * Draws `mesh` into `container` (replacing what was there). Each node is a `g.mesh-node` with
 * `data-address`, `data-role` and `data-hops`.
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

  /** @type {Map<number, { x: number, y: number, depth: number }>} */
  const position = new Map();
  let nextRow = 0;
  let maxDepth = 0;
  const seen = new Set();
  // Depth-first: leaves take the next row, a parent sits in the middle of its children.
  const place = (address, depth) => {
    seen.add(address);
    maxDepth = Math.max(maxDepth, depth);
    const kids = (children.get(address) ?? []).filter((a) => !seen.has(a));
    let y;
    if (kids.length === 0) y = nextRow++;
    else {
      const ys = kids.map((kid) => place(kid, depth + 1));
      y = (Math.min(...ys) + Math.max(...ys)) / 2;
    }
    position.set(address, { x: depth, y, depth });
    return y;
  };
  place(root, 0);
  // Nodes in a parent cycle were not reached from the coordinator: put them on rows of their own.
  for (const node of mesh.nodes) if (!seen.has(node.address)) place(node.address, 1);

  const width = margin.left + maxDepth * column + margin.right;
  const height = margin.top + Math.max(nextRow - 1, 0) * row + margin.bottom + 10;
  const px = (/** @type {{ x: number }} */ p) => margin.left + p.x * column;
  const py = (/** @type {{ y: number }} */ p) => margin.top + p.y * row;

  const drawing = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `IQRF mesh, ${mesh.nodes.length} nodes` });
  const legend = svg('g', { class: 'legend' });
  for (let hops = 0; hops <= maxDepth; hops++) {
    const label = svg('text', { x: margin.left + hops * column, y: 12, 'text-anchor': 'middle' });
    label.textContent = hops === 0 ? 'hops 0' : String(hops);
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
      edges.append(svg('path', { class: 'edge', d: `M${px(from)},${py(from)} C${midX},${py(from)} ${midX},${py(to)} ${px(to)},${py(to)}` }));
    }
  }
  drawing.append(edges);

  const byAddress = new Map(mesh.nodes.map((n) => [n.address, n]));
  for (const [address, p] of position) {
    const node = byAddress.get(address);
    const role = node?.role ?? 'COORDINATOR';
    const group = svg('g', { class: 'mesh-node', 'data-address': address, 'data-role': role, 'data-hops': node?.hops ?? 0, transform: `translate(${px(p)},${py(p)})` });
    group.append(svg('circle', { r: role === 'COORDINATOR' ? 8 : 6 }));
    const label = svg('text', { x: 9, y: -7 });
    label.textContent = address === root ? 'coordinator' : node?.room ? `${address} · room ${node.room}` : String(address);
    group.append(label);
    const title = svg('title');
    title.textContent = node ? `${node.name ?? `node ${address}`} (address ${address}, ${role.toLowerCase()}, ${node.hops} hops${node.room ? `, room ${node.room}` : ''})` : `coordinator (address ${address})`;
    group.append(title);
    drawing.append(group);
  }
  container.replaceChildren(drawing);
  return { nodes: mesh.nodes.length, maxHops: Math.max(0, ...mesh.nodes.map((n) => n.hops)) };
}
