import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalRoutePath, isAmbiguousCharacter, normalizeRequestPath, pathRefusals, type PathRefusal } from '../../domain/request-path.js';

type Vector = { name: string; input: string } & ({ ok: true; path: string; query: string } | { ok: false; reason: PathRefusal });
const fixture = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../fixtures/path-vectors.json'), 'utf8')) as {
  ambiguousCodePoints: string[];
  vectors: Vector[];
};

describe('normalizeRequestPath: the shared vectors (test/fixtures/path-vectors.json)', () => {
  it.each(fixture.vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const result = normalizeRequestPath(v.input);
    if (v.ok) {
      expect(result).toEqual({ ok: true, path: v.path, query: v.query, target: v.query ? `${v.path}?${v.query}` : v.path });
    } else {
      expect(result).toEqual({ ok: false, reason: v.reason });
    }
  });

  it('the file keeps its own conventions: bytes as U+0000..U+00FF, known reasons, unique names', () => {
    const names = new Set<string>();
    for (const v of fixture.vectors) {
      expect([...v.input].every((ch) => ch.charCodeAt(0) <= 0xff), v.name).toBe(true);
      if (!v.ok) expect(Object.keys(pathRefusals), v.name).toContain(v.reason);
      expect(names.has(v.name), v.name).toBe(false);
      names.add(v.name);
    }
    // every refusal is exercised by at least one vector
    expect(new Set(fixture.vectors.flatMap((v) => (v.ok ? [] : [v.reason])))).toEqual(new Set(Object.keys(pathRefusals)));
  });

  it('the ambiguous code points listed for ports are exactly the ones the rule refuses', () => {
    const refused: string[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (isAmbiguousCharacter(cp)) refused.push(`U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
    }
    expect(refused).toEqual(fixture.ambiguousCodePoints);
  });
});

describe('canonical paths', () => {
  const accepted = fixture.vectors.filter((v): v is Vector & { ok: true } => v.ok);

  it('are fixed points: normalising a canonical target again changes nothing', () => {
    for (const v of accepted) {
      const once = normalizeRequestPath(v.input);
      if (!once.ok) throw new Error(v.name);
      expect(normalizeRequestPath(once.target), v.name).toEqual(once);
    }
  });

  it('decode (once or twice) to the same segments, with no dot segment, empty segment or path syntax in them', () => {
    for (const v of accepted) {
      const segments = v.path.split('/').slice(1, v.path.endsWith('/') ? -1 : undefined);
      for (const segment of segments) {
        const decoded = decodeURIComponent(segment);
        expect(decodeURIComponent(decoded), v.name).toBe(decoded);
        expect(['', '.', '..'], v.name).not.toContain(decoded);
        expect(decoded, v.name).not.toMatch(/[/\\;%]/);
      }
      // what a framework routing on the WHATWG pathname sees is the same path
      expect(new URL(v.path, 'http://upstream').pathname, v.name).toBe(v.path);
    }
  });

  it('refusal details are plain ASCII without quotes (nginx may echo them inside JSON)', () => {
    for (const detail of Object.values(pathRefusals)) expect(detail).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
  });
});

describe('canonicalRoutePath (routes.json paths)', () => {
  it('accepts canonical route paths and refuses the rest', () => {
    expect(canonicalRoutePath('/orders/')).toBe('/orders/');
    expect(canonicalRoutePath('/orders/export')).toBe('/orders/export');
    for (const bad of ['/orders//', '/orders/../payments/', '/ord%65rs/', '/orders;x/', '/orders/?a=1', 'orders/', '/%2e%2e/'])
      expect(canonicalRoutePath(bad), bad).toBeUndefined();
  });
});
