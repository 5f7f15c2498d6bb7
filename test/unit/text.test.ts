import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { textPattern, textProblem } from '../../domain/text.js';
import { revocationSchema, submissionSchema } from '../../schema/api.js';

const name = submissionSchema.shape.name;
const bmp = function* () {
  for (let c = 0; c <= 0xffff; c++) if (c < 0xd800 || c > 0xdfff) yield String.fromCharCode(c);
};

describe('free text: what textProblem refuses', () => {
  it.each([
    ['a right-to-left override', 'abc\u202egnp.exe', 'bidi control character (U+202E at index 3)'],
    ['a left-to-right isolate', 'a\u2066b', 'bidi control character (U+2066 at index 1)'],
    ['a zero-width space', 'Ac\u200bme', 'zero-width character (U+200B at index 2)'],
    ['a byte-order mark, even leading', '\ufeffAcme', 'zero-width character (U+FEFF at index 0)'],
    ['a soft hyphen', 'Ac\u00adme', 'invisible format character (U+00AD at index 2)'],
    ['a format character beyond the BMP (tag character)', 'Acme\u{e0041}', 'invisible format character (U+E0041 at index 4)'],
    ['a C1 control (NEL)', 'Acme\u0085', 'control character (U+0085 at index 4)'],
    ['a C0 control', 'Acme\u0000', 'control character (U+0000 at index 4)'],
    ['DEL', 'Acme\u007f', 'control character (U+007F at index 4)'],
    ['a lone high surrogate', 'Acme\ud800', 'unpaired surrogate (U+D800 at index 4)'],
    ['a lone low surrogate', '\udc00Acme', 'unpaired surrogate (U+DC00 at index 0)'],
    ['reversed surrogates', 'a\udc00\ud800', 'unpaired surrogate (U+DC00 at index 1)'],
  ])('%s', (_what, value, message) => {
    expect(textProblem(value)).toBe(`must not contain a${/^[aeiou]/.test(message) ? 'n' : ''} ${message}`);
  });

  it('blank text', () => {
    for (const blank of ['', ' ', '\t\n\r', '\u00a0\u3000\u2028']) expect(textProblem(blank)).toBe('must not be blank');
  });

  it.each([
    ['plain text', 'Acme Logistics'],
    ['tab, newline and carriage return inside text', 'line one\r\n\tline two'],
    ['letters of other scripts', 'Société Générale · 株式会社 · שלום · مرحبا'],
    ['astral characters (surrogate pairs)', 'Acme 🚚 𝔸'],
    ['a combining mark', 'Cafe\u0301'],
    ['a line separator inside text', 'a\u2028b'],
  ])('accepts %s', (_what, value) => {
    expect(textProblem(value)).toBeUndefined();
    expect(textPattern.test(value)).toBe(true);
  });
});

describe('the published pattern and the check are one rule', () => {
  it('on every BMP character, inside text and alone, the pattern refuses exactly what textProblem refuses', () => {
    const disagree: string[] = [];
    for (const c of bmp()) {
      for (const value of [`a${c}b`, c]) {
        if (textPattern.test(value) !== (textProblem(value) === undefined)) disagree.push(`U+${c.charCodeAt(0).toString(16)} in ${JSON.stringify(value)}`);
      }
    }
    expect(disagree).toEqual([]);
  });

  it('the spelled-out ranges cover every control and format character of the BMP in this runtime’s Unicode data', () => {
    const missed = [...bmp()].filter((c) => /(?![\t\n\r])[\p{Cc}\p{Cf}]/u.test(c) && textPattern.test(`a${c}b`));
    expect(missed.map((c) => `U+${c.charCodeAt(0).toString(16)}`)).toEqual([]);
  });

  it('compiles in Python’s re (the fuzzer’s engine) and decides the same there', () => {
    const samples = ['Acme', ' Acme ', '', ' ', 'a\u202eb', 'a\u200bb', '\ufeffa', 'a\u0085b', 'a\u0000b', 'line\nline', 'Société 🚚'];
    const script = 'import json,re,sys; d=json.load(sys.stdin); p=re.compile(d["pattern"]); print(json.dumps([bool(p.search(s)) for s in d["samples"]]))';
    const out = execFileSync('python3', ['-c', script], { input: JSON.stringify({ pattern: textPattern.source, samples }) }).toString();
    expect(JSON.parse(out)).toEqual(samples.map((s) => textPattern.test(s)));
  });
});

describe('free-text fields in the request schemas', () => {
  it('a refused character is an issue on the field, saying what and where', () => {
    const result = submissionSchema.safeParse({
      name: 'abc\u202egnp.exe',
      contactEmail: 'dev@acme.example',
      sponsor: 'alice',
      environment: 'sandbox',
      scopes: ['orders:read'],
      justification: 'ok\ud800',
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['name', 'must not contain a bidi control character (U+202E at index 3)'],
      ['justification', 'must not contain an unpaired surrogate (U+D800 at index 2)'],
    ]);
  });

  it('accepted text is stored in NFC and trimmed', () => {
    expect(name.parse('  Cafe\u0301  ')).toBe('Caf\u00e9');
    expect(name.parse('\u212b ngstr\u00f6m')).toBe('\u00c5 ngstr\u00f6m'); // the Ångström sign is canonically Å
    expect(revocationSchema.parse({ reason: 'n\u0303' }).reason).toBe('\u00f1');
  });

  it('one issue per refused value, not one from the pattern and another from the check', () => {
    const result = name.safeParse('a\u202eb');
    expect(result.error!.issues).toHaveLength(1);
  });
});
