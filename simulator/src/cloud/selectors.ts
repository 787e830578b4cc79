import { BadRequest } from './errors.ts';

/**
 * Kubernetes label and field selectors, as the API server reads them:
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, joined by commas.
 */
export type Requirement = { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | '!exists' };

/** A selector the API server cannot read: a 400. */
export class SelectorError extends BadRequest {}

export function parseLabelSelector(selector: string): Requirement[] {
  const requirements: Requirement[] = [];
  for (const part of splitTopLevel(selector)) {
    const term = part.trim();
    if (!term) continue;
    let match = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (match) {
      const values = match[3]!
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      requirements.push({ key: match[1]!, op: match[2] as 'in' | 'notin', values });
      continue;
    }
    match = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (match) {
      requirements.push({ key: match[1]!, op: match[2] === '!=' ? 'notin' : 'in', values: [match[3]!] });
      continue;
    }
    match = /^(!?)([\w./-]+)$/.exec(term);
    if (match) {
      requirements.push({ key: match[2]!, op: match[1] ? '!exists' : 'exists' });
      continue;
    }
    throw new SelectorError(`unable to parse requirement: "${term}"`);
  }
  return requirements;
}

export function matchesSelector(requirements: Requirement[], values: Record<string, string | undefined>): boolean {
  return requirements.every((r) => {
    const value = values[r.key];
    switch (r.op) {
      case 'exists':
        return value !== undefined;
      case '!exists':
        return value === undefined;
      case 'in':
        return value !== undefined && r.values.includes(value);
      case 'notin':
        return value === undefined || !r.values.includes(value);
    }
  });
}

/** Field selectors support only `=`, `==` and `!=` on the fields each resource declares. */
export function parseFieldSelector(selector: string, supported: readonly string[]): Requirement[] {
  const requirements = parseLabelSelector(selector);
  for (const r of requirements) {
    if (!('values' in r) || r.values.length !== 1) throw new SelectorError(`invalid field selector term for "${r.key}"`);
    if (!supported.includes(r.key)) throw new SelectorError(`field label not supported: ${r.key}`);
  }
  return requirements;
}

// Commas separate requirements, except inside `in (a,b)`.
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}
