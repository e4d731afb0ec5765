import { expect } from 'chai';

import { runTypeNames, runTypeWord } from '../../src/engine/run-type.js';

describe('run type word', () => {
  it('names every set bit, so a TELLIE run is ExternalSource and TELLIE', () => {
    expect(runTypeNames(runTypeWord('ExternalSource', 'TELLIE'))).to.deep.equal(['ExternalSource', 'TELLIE']);
  });

  it('names spare bits by number rather than dropping them', () => {
    expect(runTypeNames(2 ** 9 + 4)).to.deep.equal(['Physics', 'bit9']);
  });

  it('reads bit 31 of an unsigned word', () => {
    expect(runTypeNames(2 ** 31)).to.deep.equal(['bit31']);
  });
});
