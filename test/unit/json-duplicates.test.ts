import { describe, expect, it } from 'vitest';
import { findDuplicateKey } from '../../domain/json-duplicates.js';

describe('findDuplicateKey', () => {
  it.each([
    ['a top-level key', '{"dryRun":true,"dryRun":false}', { key: 'dryRun', path: 'dryRun' }],
    ['with whitespace everywhere', ' { "a" : 1 ,\n\t"a" : 2 } ', { key: 'a', path: 'a' }],
    ['an escaped spelling of the same key', '{"a":1,"\\u0061":2}', { key: 'a', path: 'a' }],
    ['escaped quotes and backslashes inside a key', '{"a\\"b\\\\":1,"a\\u0022b\\u005c":2}', { key: 'a"b\\', path: 'a"b\\' }],
    ['in a nested object', '{"outer":{"x":1,"y":{"z":1,"z":2}}}', { key: 'z', path: 'outer.y.z' }],
    ['in an object inside an array', '{"items":[{"id":1},{"id":2,"id":3}]}', { key: 'id', path: 'items.1.id' }],
    ['in a top-level array', '[{"k":1},[],{"k":1,"k":1}]', { key: 'k', path: '2.k' }],
    ['after a nested value of the same name', '{"a":{"a":1},"a":2}', { key: 'a', path: 'a' }],
    ['__proto__', '{"__proto__":1,"__proto__":2}', { key: '__proto__', path: '__proto__' }],
    ['an empty key', '{"":1,"":2}', { key: '', path: '' }],
    ['a surrogate pair written two ways', '{"\\ud83d\\ude9a":1,"🚚":2}', { key: '🚚', path: '🚚' }],
  ])('finds %s', (_what, text, expected) => {
    expect(findDuplicateKey(text)).toEqual(expected);
  });

  it.each([
    ['distinct keys', '{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}'],
    ['a key repeated as a string value', '{"a":"a","b":"a"}'],
    ['the same key in sibling objects', '[{"a":1},{"a":2}]'],
    ['strings with braces, commas and colons', '{"a":"{\\"a\\":1,\\"a\\":2}","b":"x,\\"b\\":"}'],
    ['keys that differ only by case or normalisation', '{"a":1,"A":2,"é":3,"e\\u0301":4}'],
    ['scalars', '"a"'],
    ['an empty body', ''],
  ])('accepts %s', (_what, text) => {
    expect(findDuplicateKey(text)).toBeUndefined();
  });

  it('stops quietly on malformed JSON (JSON.parse reports it)', () => {
    for (const text of ['{"a":1,"a', '{"a\\', '{"\\uZZZZ":1,"\\uZZZZ":2}', '}}]]{', '{"a":1,,"a":2']) {
      expect(() => findDuplicateKey(text)).not.toThrow();
    }
  });

  it('on random documents, finds a duplicate exactly when one was written (keys spelled with random escapes)', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    // a key written as JSON, each character sometimes as a \u escape
    const spell = (key: string) => `"${[...key].map((ch) => (random() < 0.3 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(ch).slice(1, -1))).join('')}"`;
    for (let run = 0; run < 500; run++) {
      let wrote = false;
      const value = (depth: number): string => {
        const kind = depth > 3 ? 'scalar' : pick(['scalar', 'object', 'array']);
        if (kind === 'scalar') return pick(['1', 'true', 'null', '"a,b:{}"', '"\\"x\\""']);
        if (kind === 'array') return `[${Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1)).join(',')}]`;
        const keys = Array.from(new Set(Array.from({ length: Math.floor(random() * 4) }, () => pick(['a', 'b', 'dryRun', 'é', '"q"']))));
        if (keys.length > 0 && random() < 0.1) {
          keys.push(pick(keys));
          wrote = true;
        }
        return `{${keys.map((k) => `${spell(k)}:${value(depth + 1)}`).join(',')}}`;
      };
      const text = value(0);
      expect(() => JSON.parse(text), text).not.toThrow();
      expect(findDuplicateKey(text) !== undefined, text).toBe(wrote);
    }
  });

  it('runs in linear time on deep and wide input', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const wide = `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')},"k0":0}`;
    const longKey = `{"${'x'.repeat(60_000)}":1,"${'x'.repeat(60_000)}":2}`;
    const started = performance.now();
    expect(findDuplicateKey(deep)).toBeUndefined();
    expect(findDuplicateKey(wide)).toEqual({ key: 'k0', path: 'k0' });
    expect(findDuplicateKey(longKey)?.path).toHaveLength(60_000);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
