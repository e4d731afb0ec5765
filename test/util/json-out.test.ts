import { expect } from 'chai';
import fc from 'fast-check';

import { writeJson } from '../../src/util/json-out.js';

function written(value: unknown): { text: string; pieces: string[] } {
  const pieces: string[] = [];
  writeJson((text) => pieces.push(text), value);
  return { text: pieces.join(''), pieces };
}

describe('writeJson', () => {
  it('writes what JSON.stringify(value, null, 2) gives, and a newline (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(written(value).text).to.equal(`${JSON.stringify(value, null, 2)}\n`);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves out what JSON.stringify leaves out, and writes dates and toJSON values as it does', () => {
    const value = {
      a: undefined,
      b: [undefined, () => 1, Symbol('s'), 1],
      when: new Date('2026-12-02T00:00:00Z'),
      nested: { toJSON: () => ({ x: [1, { y: 'z' }] }) },
      empty: { list: [], object: {} },
    };
    expect(written(value).text).to.equal(`${JSON.stringify(value, null, 2)}\n`);
  });

  it('writes a large result in pieces of about 64 KiB, never as one string', () => {
    const created = Array.from({ length: 20_000 }, (_, i) => ({
      run: 300000 + i,
      module: 'Processing',
      pass: 0,
    }));
    const { text, pieces } = written({ created });
    expect(text).to.equal(`${JSON.stringify({ created }, null, 2)}\n`);
    expect(pieces.length).to.be.greaterThan(10);
    expect(Math.max(...pieces.map((p) => p.length))).to.be.lessThan(70_000);
  });
});
