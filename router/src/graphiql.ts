import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * The README's first example (`CityOverview`, kept identical by test/e2e/graphiql.test.ts) with how
 * to sign in. The hint is a comment rather than default headers: GraphiQL sends its headers with
 * the introspection query too, and a placeholder token would be refused as UNAUTHENTICATED.
 */
export const GRAPHIQL_DEFAULT_QUERY = `# Sign in: in the Headers tab below, paste
#   {"authorization": "Bearer <token from npm start>"}
# with a token \`npm start\` printed (austin-summit's for
# austin-gw01; the operator's sees every gateway).
# Without one you see open data only.

query CityOverview {
  gateway(id: "austin-gw01") {
    name
    status
    arch
    node { name ready kubeletVersion }
    vrouter { name }
    mesh { size coordinator { address } }
    sensors(quantity: CO2) {
      id
      name
      room
      latest { value time }
      readings(from: "-1h", every: "5min", aggregate: AVG) { time value }
    }
  }
  intersections { name traffic(from: "-1h", every: "10min") { time vehicles pedestrians } }
  parkingLots { name capacity occupied free }
  datasets { id title license { name } }
}
`;

/** The router's GraphiQL settings (the runtime adds its logo and favicon, both inline). */
export const graphiqlOptions: GraphiQLOptions = { title: 'IoT platform API', defaultQuery: GRAPHIQL_DEFAULT_QUERY };

/**
 * GraphiQL as one self-contained page: its scripts, styles and editor workers are inlined from
 * `@graphql-yoga/render-graphiql`, so it works with no internet (the runtime's default loads them
 * from unpkg.com). That package takes half a second to load and the page is about 9 MB, so it is
 * loaded on the first request for GraphiQL and the page built once per set of options.
 */
export function offlineGraphiQL(): (options: GraphiQLOptions) => Promise<string> {
  let cached: { key: string; html: string } | undefined;
  return async (options) => {
    const key = JSON.stringify(options);
    if (cached?.key !== key) {
      const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
      cached = { key, html: renderGraphiQL(options) };
    }
    return cached.html;
  };
}
