import { describe, expect, it } from 'vitest';
import { ReadBatcher } from '../../schema/read-batcher.js';

/** A read the test finishes by hand: each call is recorded with the keys it carried. */
function manualReads() {
  const reads: { keys: string[]; finish: (rows?: Map<string, string>) => void; fail: (e: Error) => void }[] = [];
  const read = (keys: string[]) =>
    new Promise<Map<string, string>>((resolve, reject) => {
      reads.push({ keys, finish: (rows) => resolve(rows ?? new Map(keys.map((k) => [k, `row-${k}-read${reads.length}`]))), fail: reject });
    });
  return { reads, read };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('ReadBatcher', () => {
  it('reads a key at once when nothing is in flight, and every key asked meanwhile in one read after it', async () => {
    const { reads, read } = manualReads();
    const batcher = new ReadBatcher(read);
    const first = batcher.get('a');
    expect(reads.map((r) => r.keys)).toEqual([['a']]);
    const later = ['b', 'c', 'b', 'a'].map((k) => batcher.get(k));
    await tick();
    expect(reads).toHaveLength(1); // nothing joins the read in flight
    reads[0]!.finish();
    expect(await first).toBe('row-a-read1');
    await tick();
    expect(reads.map((r) => r.keys)).toEqual([['a'], ['b', 'c', 'a']]);
    reads[1]!.finish();
    // 'a' asked again while the first read was in flight: answered by the second read, not the first
    expect(await Promise.all(later)).toEqual(['row-b-read2', 'row-c-read2', 'row-b-read2', 'row-a-read2']);
  });

  it('answers undefined for a key the read did not return', async () => {
    const { reads, read } = manualReads();
    const batcher = new ReadBatcher(read);
    const missing = batcher.get('nobody');
    reads[0]!.finish(new Map());
    expect(await missing).toBeUndefined();
  });

  it('splits a batch at maxKeys; the overflow reads after it', async () => {
    const { reads, read } = manualReads();
    const batcher = new ReadBatcher(read, 2);
    const all = ['a', 'b', 'c', 'd', 'e'].map((k) => batcher.get(k));
    for (let i = 0; i < 3; i++) {
      reads[i]!.finish();
      await tick();
    }
    expect(reads.map((r) => r.keys)).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    expect(await Promise.all(all)).toEqual(['row-a-read1', 'row-b-read2', 'row-c-read2', 'row-d-read3', 'row-e-read3']);
  });

  it('a failed read fails its own questions only; the next batch still reads', async () => {
    const { reads, read } = manualReads();
    const batcher = new ReadBatcher(read);
    const failing = batcher.get('a');
    const next = batcher.get('b');
    reads[0]!.fail(new Error('connection lost'));
    await expect(failing).rejects.toThrow('connection lost');
    await tick();
    expect(reads.map((r) => r.keys)).toEqual([['a'], ['b']]);
    reads[1]!.finish();
    expect(await next).toBe('row-b-read2');
  });

  it('a read that throws at once is a failed read, not a stuck batcher', async () => {
    let calls = 0;
    const batcher = new ReadBatcher<string, string>((keys) => {
      if (calls++ === 0) throw new Error('bad statement');
      return Promise.resolve(new Map(keys.map((k) => [k, 'ok'])));
    });
    await expect(batcher.get('a')).rejects.toThrow('bad statement');
    expect(await batcher.get('a')).toBe('ok');
  });
});
