/** The four subgraphs of the platform and the ports they listen on by default. */
export const subgraphs = [
  { name: 'devices', port: 4001 },
  { name: 'telemetry', port: 4002 },
  { name: 'infrastructure', port: 4003 },
  { name: 'opendata', port: 4004 },
] as const;

export type SubgraphName = (typeof subgraphs)[number]['name'];
