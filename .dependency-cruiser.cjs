// The walls of the code base, checked by dependency-cruiser: `npm run walls` (and in CI).
// Paths are relative to the repository root; `#kit`, `#simulator`, ... resolve through the
// "imports" of package.json, `.ts` imports through tsconfig.json. Type-only imports count too.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'router-knows-only-a-supergraph',
      comment:
        'The router serves a supergraph file: it imports no subgraph, no composition (packages/supergraph), no collector, simulator or all-in-one start.',
      severity: 'error',
      from: { path: '^router/' },
      to: { path: '^(subgraphs|platform|simulator|collector)/|^packages/supergraph/' },
    },
    {
      name: 'no-subgraph-imports-another',
      comment: 'A subgraph talks to the others only through the router; what two of them share lives in packages/.',
      severity: 'error',
      from: { path: '^subgraphs/([^/]+)/' },
      to: { path: '^subgraphs/', pathNot: '^subgraphs/$1/' },
    },
    {
      name: 'services-are-separate',
      comment: 'A subgraph, the collector or the simulator imports packages/, never another service nor the router.',
      severity: 'error',
      from: { path: '^(subgraphs|collector|simulator)/' },
      to: { path: '^(router|subgraphs|collector|simulator|dashboard)/', pathNot: '^$1/' },
    },
    {
      name: 'simulator-only-from-orchestration',
      comment:
        'The simulated city is started by the all-in-one start (platform/), scripts, benchmarks and tests, and imported by nothing else.',
      severity: 'error',
      from: { pathNot: '^(platform|scripts|bench|test|simulator)/' },
      to: { path: '^simulator/' },
    },
    {
      name: 'platform-only-from-start-tools',
      comment: 'platform/ (npm start) wires every service; only scripts, benchmarks and tests may import it.',
      severity: 'error',
      from: { pathNot: '^(platform|scripts|bench|test)/' },
      to: { path: '^platform/' },
    },
    {
      name: 'packages-import-no-service',
      comment: 'packages/* are the shared libraries: they import other packages and npm modules, never a service or the start.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^(router|subgraphs|collector|simulator|platform|dashboard|scripts|bench|test)/' },
    },
    {
      name: 'unit-tests-need-nothing-installed',
      comment:
        'test/unit runs on a machine with only npm packages (npm run test:unit): no real service (test/support/services), no whole platform (platform/, the fault rig).',
      severity: 'error',
      from: { path: '^test/unit/' },
      to: { path: '^test/support/(services/|fault-harness)|^platform/' },
    },
    {
      name: 'no-circular',
      comment:
        'Modules that import each other at run time (directly or around a loop) cannot be understood or loaded one at a time. A loop closed by a type-only import (a context type its loaders name) vanishes when compiled, and is allowed.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports and that imports nothing is dead code (or a config file: listed here).',
      severity: 'error',
      from: {
        orphan: true,
        pathNot: [
          '(^|/)[.][^/]+[.](?:js|cjs|mjs|ts|json)$',
          '[.]d[.]ts$',
          '(^|/)tsconfig[.]json$',
          '^(eslint|vitest)[.]config[.]',
          '^codegen[.]ts$',
        ],
      },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing on disk (a moved file, an alias missing from package.json "imports").',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)__generated__/|^clients/typescript/' },
    // Type-only imports are dependencies too: a type crossing a wall couples both sides.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
