import type { Point } from './reading.ts';

export interface GraphiteRenderOptions {
  /** graphite-web base URL, e.g. `http://127.0.0.1:8080` (a path prefix such as `/graphite` is kept). */
  graphiteUrl: string;
  fetch?: typeof fetch;
  /** Per HTTP request. Default 10 s. */
  timeoutMs?: number;
}

/** One series of an answer: the metric path it was read from, and its non-null points. */
export interface RenderedSeries {
  /** The series' path (`summarize(...)` and the like unwrapped to the path they were given). */
  path: string;
  /** Oldest first; times in ms. */
  points: Point[];
}

/** One series of graphite-web's JSON render format. */
interface RenderSeries {
  target: string;
  tags?: Record<string, unknown>;
  datapoints: Array<[number | null, number]>;
}

/** Render URLs longer than this are split; proxies and graphite-web's runserver accept 8 KB. */
const MAX_URL_LENGTH = 8_000;

/**
 * graphite-web's render API (`/render?format=json`): asks for targets over a time range, in as few
 * requests as fit the URL limit, and checks each answer's shape before it is used, so that a proxy
 * error page or a changed format is a precise error, not a crash further on.
 */
export class GraphiteRenderClient {
  private readonly renderUrl: URL;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: GraphiteRenderOptions) {
    this.renderUrl = new URL('render', options.graphiteUrl.endsWith('/') ? options.graphiteUrl : `${options.graphiteUrl}/`);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** For error messages: where the answers come from. */
  get where(): string {
    return `Graphite ${this.renderUrl.pathname}`;
  }

  /**
   * The series of `targets` between `from` and `until` (graphite-web's own forms: epoch seconds,
   * `-6h`, `now`), without null points.
   */
  async render(targets: readonly string[], range: { from: string; until: string }): Promise<RenderedSeries[]> {
    const base = new URL(this.renderUrl);
    base.searchParams.set('format', 'json');
    base.searchParams.set('noNullPoints', 'true');
    base.searchParams.set('from', range.from);
    base.searchParams.set('until', range.until);
    // Targets per request, so that the URL stays under MAX_URL_LENGTH ('&' + the encoded pair each).
    const groups: string[][] = [];
    let length = Infinity;
    for (const target of targets) {
      const pair = new URLSearchParams({ target }).toString().length + 1;
      if (length + pair > MAX_URL_LENGTH) {
        groups.push([]);
        length = base.href.length;
      }
      groups.at(-1)!.push(target);
      length += pair;
    }
    const urls = groups.map((group) => {
      const url = new URL(base);
      for (const target of group) url.searchParams.append('target', target);
      return url;
    });
    const answers = await Promise.all(urls.map((request) => this.get(request)));
    return answers.flat().map((series) => {
      const points: Point[] = [];
      for (const [value, time] of series.datapoints) if (value !== null) points.push({ time: time * 1000, value });
      return { path: pathOf(series), points };
    });
  }

  private async get(url: URL): Promise<RenderSeries[]> {
    const where = `Graphite ${url.pathname}`;
    let response: Response;
    try {
      response = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
    } catch (error) {
      throw new Error(`${where}: request failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) throw new Error(`${where}: HTTP ${response.status} ${response.statusText}: ${text.slice(0, 300)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(
        `${where}: the answer is not JSON (content-type ${response.headers.get('content-type') ?? 'none'}): ${JSON.stringify(text.slice(0, 200))}`,
      );
    }
    return validateRenderSeries(body, where);
  }
}

/** The path a series was read from: its `name` tag, or its target with `summarize(` unwrapped. */
function pathOf(series: RenderSeries): string {
  return typeof series.tags?.name === 'string' ? series.tags.name : (/^summarize\(([^,]+),/.exec(series.target)?.[1] ?? series.target);
}

/** Checks graphite-web's JSON render answer: `[{target, tags?, datapoints: [[value|null, epochSeconds]]}]`. */
function validateRenderSeries(body: unknown, where: string): RenderSeries[] {
  if (!Array.isArray(body)) throw new Error(`${where}: expected a JSON array of series, got ${describe(body)}`);
  body.forEach((series: unknown, i) => {
    if (typeof series !== 'object' || series === null || Array.isArray(series))
      throw new Error(`${where}: series ${i} is ${describe(series)}, not an object`);
    const { target, tags, datapoints } = series as Record<string, unknown>;
    if (typeof target !== 'string') throw new Error(`${where}: series ${i} has no string "target"`);
    if (tags !== undefined && (typeof tags !== 'object' || tags === null || Array.isArray(tags)))
      throw new Error(`${where}: series ${i} (${target}) has "tags" ${describe(tags)}, not an object`);
    if (!Array.isArray(datapoints))
      throw new Error(`${where}: series ${i} (${target}) has "datapoints" ${describe(datapoints)}, not an array`);
    datapoints.forEach((point: unknown, j) => {
      if (
        !Array.isArray(point) ||
        point.length !== 2 ||
        (point[0] !== null && typeof point[0] !== 'number') ||
        !Number.isInteger(point[1])
      ) {
        throw new Error(`${where}: series ${i} (${target}) datapoint ${j} is ${JSON.stringify(point)}, not [number|null, epochSeconds]`);
      }
    });
  });
  return body as RenderSeries[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 50)}`;
}
