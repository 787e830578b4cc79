import { describe, expect, it } from 'vitest';
import { RouteTable } from '#kit';

/** A table whose handlers answer what they were called with. */
function table(options?: { emptyParams?: boolean }) {
  return new RouteTable<string, string>(options)
    .on('GET', '/projects', (context) => `${context} list`)
    .on('POST', '/projects', () => 'create')
    .on('GET', '/projects/{id}', (_, { id }) => `project ${id}`)
    .on('DELETE', '/namespaces/{namespace}/pods/{name}', (_, { namespace, name }) => `pod ${namespace}/${name}`)
    .on('GET', '/datasets/{id}.csv', (_, { id }) => `csv ${id}`)
    .on('GET', '/datasets/{id}', (_, { id }) => `record ${id}`)
    .on('GET', '/Things({id})/Datastreams', (_, { id }) => `streams of ${id}`)
    .on('GET', '/sta/v1.1/{path*}', (_, { path }) => `sta "${path}"`)
    .on('*', '/projects/{id}', (_, { id }) => `any other method on ${id}`);
}

describe('RouteTable', () => {
  it('runs the first route whose method and template match, with its parameters', () => {
    const routes = table();
    expect(routes.match('GET', '/projects')?.run('ctx')).toBe('ctx list');
    expect(routes.match('POST', '/projects')?.run('')).toBe('create');
    expect(routes.match('GET', '/projects/a%20b')?.run('')).toBe('project a%20b');
    expect(routes.match('DELETE', '/namespaces/ns/pods/p1')?.params).toEqual({ namespace: 'ns', name: 'p1' });
    expect(routes.match('PUT', '/projects/x')?.run('')).toBe('any other method on x');
    expect(routes.match('PUT', '/projects')).toBeUndefined();
  });

  it('matches whole segments: no prefix, no trailing slash, no extra segment', () => {
    const routes = table();
    for (const path of ['/projectsx', '/projects/', '/projects/a/b', 'projects', '', '/'])
      expect(routes.match('GET', path), path).toBeUndefined();
  });

  it('binds a parameter with literal text around it, the first route in order winning', () => {
    const routes = table();
    expect(routes.match('GET', '/datasets/traffic.csv')?.run('')).toBe('csv traffic');
    expect(routes.match('GET', '/datasets/a.csv.csv')?.run('')).toBe('csv a.csv');
    expect(routes.match('GET', '/datasets/traffic.json')?.run('')).toBe('record traffic.json');
    // `{id}.csv` needs an id: `.csv` alone is the id of the next route.
    expect(routes.match('GET', '/datasets/.csv')?.run('')).toBe('record .csv');
    expect(routes.match('GET', "/Things(a'b)/Datastreams")?.params).toEqual({ id: "a'b" });
    expect(routes.match('GET', '/Things/Datastreams')).toBeUndefined();
  });

  it('takes the rest of the path with {name*}, from its slash on, nothing included', () => {
    const routes = table();
    expect(routes.match('GET', '/sta/v1.1')?.run('')).toBe('sta ""');
    expect(routes.match('GET', '/sta/v1.1/')?.run('')).toBe('sta "/"');
    expect(routes.match('GET', "/sta/v1.1/Things('a')/Datastreams")?.run('')).toBe(`sta "/Things('a')/Datastreams"`);
    expect(routes.match('GET', '/sta/v1.1x')).toBeUndefined();
    expect(routes.match('GET', '/sta')).toBeUndefined();
  });

  it('lets parameters be empty only when asked, and takes a path split already', () => {
    expect(table().match('GET', '/projects//')).toBeUndefined();
    expect(table().match('GET', '/Things()/Datastreams')).toBeUndefined();
    const lenient = table({ emptyParams: true });
    expect(lenient.match('DELETE', '/namespaces//pods/p')?.params).toEqual({ namespace: '', name: 'p' });
    expect(lenient.match('GET', '/Things()/Datastreams')?.params).toEqual({ id: '' });
    // A segment that holds a slash (a decoded OData key) is still one segment.
    expect(table().match('GET', ['', 'Things(a/b)', 'Datastreams'])?.params).toEqual({ id: 'a/b' });
  });

  it('tells which methods serve a path, and lists its routes in order', () => {
    const routes = table();
    expect(routes.methods('/projects')).toEqual(['GET', 'POST']);
    expect(routes.methods('/projects/7')).toEqual(['GET', '*']);
    expect(routes.methods('/nothing')).toEqual([]);
    expect(routes.routes.slice(0, 3)).toEqual(['GET /projects', 'POST /projects', 'GET /projects/{id}']);
  });

  it('refuses a malformed template when the route is added', () => {
    const routes = new RouteTable<void, void>();
    expect(() => routes.on('GET', '/a/{b}{c}', () => {})).toThrow(/one \{name\}/);
    expect(() => routes.on('GET', '/a/{b', () => {})).toThrow(/one \{name\}/);
    expect(() => routes.on('GET', '/a/{rest*}/b', () => {})).toThrow(/the last/);
    expect(() => routes.on('GET', '/a/x{rest*}', () => {})).toThrow(/whole segment/);
  });
});
