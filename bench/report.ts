/** The markdown summary each benchmark writes beside its raw JSON: a title, what ran where, and one table of measurements. */
export function markdownReport(title: string, context: string[], rows: ReadonlyArray<readonly [string, unknown]>): string {
  return [`# ${title}`, '', ...context, '', '| measurement | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), ''].join('\n');
}

/** A nested result as table rows, `a.b.c` → value; a list is named by its length (the JSON holds it whole). */
export const flatten = (value: unknown, prefix = ''): [string, string][] =>
  value && typeof value === 'object' && !Array.isArray(value)
    ? Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k))
    : [[prefix, Array.isArray(value) ? `${value.length} listed in the JSON` : String(value)]];
