import { expect } from 'chai';

import { PastDays } from '../../src/operations/status.js';

describe('status: past days kept by oproc serve', () => {
  it('gives a day back until it is an hour old, and forgets days out of the window', () => {
    const kept = new PastDays(3_600_000);
    const first = { runs: [300001, 300002], passes: 5 };
    kept.set('9.9.0', '2026-12-01', first, 0, '2026-11-08');
    expect(kept.get('9.9.0', '2026-12-01', 3_599_999)).to.deep.equal(first);
    expect(kept.get('9.9.0', '2026-12-01', 3_600_000), 'an hour old: read again').to.equal(undefined);
    expect(kept.get('9.9.1', '2026-12-01', 0), 'another RAT version').to.equal(undefined);
    kept.set('9.9.0', '2026-12-02', { runs: [300003], passes: 1 }, 10, '2026-12-02');
    expect(kept.get('9.9.0', '2026-12-01', 20), 'before the window').to.equal(undefined);
    expect(kept.get('9.9.0', '2026-12-02', 20)).to.deep.equal({ runs: [300003], passes: 1 });
  });
});
