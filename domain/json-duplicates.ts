/**
 * Finds a key that one JSON object names twice. JSON.parse keeps the last value silently, other
 * parsers (and people reading logs) keep the first: `{"dryRun":true,"dryRun":false}` reads as a dry
 * run and runs live. Keys are compared decoded, so `"\u0061"` and `"a"` are the same key.
 *
 * One pass over the text, no recursion (nesting depth costs an array slot, not stack). Malformed
 * JSON is not diagnosed here: the scan stops quietly and JSON.parse reports it.
 */
export interface DuplicateKey {
  key: string;
  /** where the object is, as the validation issues write paths: `dryRun`, `items.0.id` */
  path: string;
}

interface Frame {
  /** null for arrays */
  keys: Set<string> | null;
  /** the member or index under which this container sits in its parent */
  segment: string | number;
  expectKey: boolean;
  currentKey: string;
  index: number;
}

export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1];
  const segmentHere = (): string | number => {
    const parent = top();
    if (!parent) return '';
    return parent.keys ? parent.currentKey : parent.index;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    switch (c) {
      case '"': {
        let end = i + 1;
        while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
        if (end >= text.length) return undefined;
        const frame = top();
        if (frame?.keys && frame.expectKey) {
          let key: string;
          try {
            key = JSON.parse(text.slice(i, end + 1)) as string;
          } catch {
            return undefined;
          }
          if (frame.keys.has(key)) {
            return { key, path: [...stack.slice(1).map((f) => f.segment), key].join('.') };
          }
          frame.keys.add(key);
          frame.currentKey = key;
          frame.expectKey = false;
        }
        i = end;
        break;
      }
      case '{':
      case '[': {
        const segment = segmentHere();
        stack.push({ keys: c === '{' ? new Set() : null, segment, expectKey: true, currentKey: '', index: 0 });
        break;
      }
      case '}':
      case ']':
        stack.pop();
        break;
      case ',': {
        const frame = top();
        if (frame?.keys) frame.expectKey = true;
        else if (frame) frame.index++;
        break;
      }
      default:
        // ':', whitespace, numbers, true/false/null: nothing to track
        break;
    }
  }
  return undefined;
}
