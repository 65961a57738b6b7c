import { describe, expect, it } from 'vitest';
import { SmallMap } from './small-map.js';

describe('SmallMap', () => {
  it('behaves as a Map below and above its small size, with object keys too', () => {
    const m = new SmallMap<object, number>();
    const keys = Array.from({ length: 20 }, () => ({}));
    const model = new Map<object, number>();
    // Grow past the small size, overwrite, delete from the middle, shrink, grow again.
    const steps: Array<[op: 'set' | 'delete', i: number]> = [
      ...keys.map((_, i): ['set', number] => ['set', i]),
      ['set', 3],
      ['delete', 0],
      ['delete', 7],
      ['delete', 19],
      ['delete', 19],
      ...keys.map((_, i): ['delete', number] => ['delete', i]),
      ['set', 5],
      ['set', 6],
      ['delete', 5],
    ];
    let n = 0;
    for (const [op, i] of steps) {
      const k = keys[i] as object;
      if (op === 'set') {
        m.set(k, ++n);
        model.set(k, n);
      } else expect(m.delete(k)).toBe(model.delete(k));
      expect(m.size).toBe(model.size);
      for (const key of keys) {
        expect(m.has(key)).toBe(model.has(key));
        expect(m.get(key)).toBe(model.get(key));
      }
      expect(new Set(m.keys())).toEqual(new Set(model.keys()));
      expect(m.values().sort()).toEqual([...model.values()].sort());
    }
  });

  it('hands out copies: changing the map while going through keys() or values() is safe', () => {
    const m = new SmallMap<string, number>();
    for (let i = 0; i < 5; i++) m.set(`k${i}`, i);
    for (const k of m.keys()) m.delete(k);
    expect(m.size).toBe(0);
    for (let i = 0; i < 12; i++) m.set(`k${i}`, i);
    for (const v of m.values()) m.delete(`k${v}`);
    expect(m.size).toBe(0);
    m.set('a', 1);
    m.clear();
    expect([m.size, m.get('a'), m.has('a')]).toEqual([0, undefined, false]);
  });
});
