/**
 * The `{name}` parameters of a path template, as the handler of its route receives them:
 * `PathParams<'/projects/{id}'>` is `{ readonly id: string }`.
 */
export type PathParams<Template extends string> = { readonly [Name in ParamNames<Template>]: string };

type ParamNames<Template extends string> = Template extends `${string}{${infer Name}}${infer Rest}`
  ? (Name extends `${infer Base}*` ? Base : Name) | ParamNames<Rest>
  : never;

/** What a route does with a request's context (`C`) and its path's parameters. */
export type RouteHandler<C, R, Params = Readonly<Record<string, string>>> = (context: C, params: Params) => R;

/** The route a request's method and path matched, its parameters bound. */
export interface RouteMatch<C, R> {
  method: string;
  template: string;
  params: Readonly<Record<string, string>>;
  run(context: C): R;
}

type Segment =
  { kind: 'literal'; text: string } | { kind: 'param'; name: string; before: string; after: string } | { kind: 'rest'; name: string };

interface Route<C, R> {
  method: string;
  template: string;
  segments: Segment[];
  handler: RouteHandler<C, R>;
}

/**
 * Method + path template -> handler, matched in the order the routes were added (the first match
 * wins, so a specific route goes before a general one), as a small router (find-my-way,
 * itty-router) does; every path an API serves is listed in one place.
 *
 * A template is `/`-separated segments, each literal text or one `{name}` with literal text
 * around it (`/projects/{id}`, `/datasets/{id}.csv`, `/Things({id})`); a last segment `{name*}`
 * takes the rest of the path, from its `/` on (`''` when nothing is left: `/sta/v1.1/{path*}`
 * matches `/sta/v1.1` too). A parameter is the segment's raw text, not percent-decoded (what a
 * segment means is the API's business), and not empty unless `emptyParams` says so. The method
 * `*` matches any method.
 */
export class RouteTable<C, R> {
  readonly #routes: Array<Route<C, R>> = [];
  readonly #emptyParams: boolean;

  constructor(options: { emptyParams?: boolean } = {}) {
    this.#emptyParams = options.emptyParams ?? false;
  }

  /** Adds a route; throws on a malformed template (a programming error, found at start). */
  on<Template extends string>(method: string, template: Template, handler: RouteHandler<C, R, PathParams<Template>>): this {
    // The matcher binds exactly the template's names, so the handler gets the params it declares.
    this.#routes.push({ method, template, segments: compile(template), handler: handler as RouteHandler<C, R> });
    return this;
  }

  /**
   * The first route for `method` whose template matches `path`, if any. `path` may come split
   * already (what `path.split('/')` gives), when a segment may hold a `/` (a decoded OData key).
   */
  match(method: string, path: string | readonly string[]): RouteMatch<C, R> | undefined {
    const parts = typeof path === 'string' ? path.split('/') : path;
    for (const route of this.#routes) {
      if (route.method !== method && route.method !== '*') continue;
      const params = this.#bind(route.segments, parts);
      if (params) return { method: route.method, template: route.template, params, run: (context) => route.handler(context, params) };
    }
    return undefined;
  }

  /** The methods some route serves `path` with, in the order added (for a 405's `Allow`). */
  methods(path: string | readonly string[]): string[] {
    const parts = typeof path === 'string' ? path.split('/') : path;
    return [...new Set(this.#routes.filter((route) => this.#bind(route.segments, parts)).map((route) => route.method))];
  }

  /** Every route as `METHOD template`, in matching order. */
  get routes(): string[] {
    return this.#routes.map((route) => `${route.method} ${route.template}`);
  }

  #bind(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
    const params: Record<string, string> = {};
    for (const [index, segment] of segments.entries()) {
      if (segment.kind === 'rest') {
        params[segment.name] = parts
          .slice(index)
          .map((part) => `/${part}`)
          .join('');
        return params;
      }
      const part = parts[index];
      if (part === undefined) return undefined;
      if (segment.kind === 'literal') {
        if (part !== segment.text) return undefined;
        continue;
      }
      const { before, after } = segment;
      const length = part.length - before.length - after.length;
      if (length < (this.#emptyParams ? 0 : 1) || !part.startsWith(before) || !part.endsWith(after)) return undefined;
      params[segment.name] = part.slice(before.length, before.length + length);
    }
    return parts.length === segments.length ? params : undefined;
  }
}

function compile(template: string): Segment[] {
  const texts = template.split('/');
  return texts.map((text, index): Segment => {
    const match = /^([^{}]*)\{([A-Za-z_]\w*)(\*?)\}([^{}]*)$/.exec(text);
    if (!match) {
      if (/[{}]/.test(text)) throw new Error(`route template "${template}": "${text}" is not a segment with one {name}`);
      return { kind: 'literal', text };
    }
    const [, before = '', name = '', rest, after = ''] = match;
    if (!rest) return { kind: 'param', name, before, after };
    if (before || after || index !== texts.length - 1)
      throw new Error(`route template "${template}": {${name}*} must be a whole segment, the last`);
    return { kind: 'rest', name };
  });
}
