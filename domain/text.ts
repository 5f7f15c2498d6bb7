/**
 * What free text (names, justifications, reasons) may contain: the one rule, used by the request
 * schemas (schema/api.ts) both as a published pattern and as a check.
 *
 * Text that lies is refused: controls break logs and terminals; format characters are invisible
 * and change how text reads without changing what it looks like it says (a right-to-left override
 * makes "abc\u202Egnp.exe" display as "abcexe.png", a zero-width space makes two names that look
 * equal differ); an unpaired surrogate is not text at all (SQLite stores it as invalid UTF-8 and it
 * reads back as U+FFFD). Tab, newline and carriage return stay allowed inside text (multi-line
 * justifications); text is stored in Unicode NFC, so equal-looking names are equal strings.
 *
 * A cost, knowingly paid: U+200C/U+200D (zero-width non-joiner/joiner) are format characters that
 * some scripts (Persian, Indic) and emoji sequences use legitimately; they are refused too.
 */

/** Controls (Cc) except tab, newline, carriage return: C0, DEL and C1. */
const controlClass = String.raw`\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F`;

/**
 * Every format character (Cf) of the Basic Multilingual Plane, spelled out: the pattern is
 * published in the OpenAPI document and read by other engines (the fuzzer's Python `re` has no
 * \p{Cf}). `test/unit/text.test.ts` checks this list against the runtime's Unicode data; format
 * characters outside the BMP (and unpaired surrogates) are refused by `textProblem`, which a
 * pattern portable across engines cannot express.
 */
const formatClass = String.raw`\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB`;

/** What String#trim removes, less the format character U+FEFF (refused everywhere). */
const blankClass = String.raw`\t\n\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;

/**
 * Not blank, no control or BMP format character. Leading blanks are matched on their own so the
 * pattern runs in linear time.
 */
export const textPattern = new RegExp(`^[${blankClass}]*[^${controlClass}${formatClass}${blankClass}][^${controlClass}${formatClass}]*$`);

const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const refused = /(?![\t\n\r])[\p{Cc}\p{Cf}]/u;
const bidiControl = /^[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]$/;
const zeroWidth = /^[\u200B-\u200D\u2060\uFEFF]$/;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `value` is not acceptable free text, or undefined when it is. The message names the
 * character by code point (never echoes the text) and where it is (0-based UTF-16 index).
 */
export function textProblem(value: string): string | undefined {
  const lone = unpairedSurrogate.exec(value);
  if (lone) return `must not contain an unpaired surrogate (${codePoint(lone[0])} at index ${lone.index})`;
  const found = refused.exec(value);
  if (found) {
    const c = found[0];
    const where = `(${codePoint(c)} at index ${found.index})`;
    if (/^\p{Cc}$/u.test(c)) return `must not contain a control character ${where}`;
    if (bidiControl.test(c)) return `must not contain a bidi control character ${where}`;
    if (zeroWidth.test(c)) return `must not contain a zero-width character ${where}`;
    return `must not contain an invisible format character ${where}`;
  }
  if (value.trim() === '') return 'must not be blank';
  return undefined;
}
