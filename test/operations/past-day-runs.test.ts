import { expect } from 'chai';

import { PastDayRuns } from '../../src/operations/status.js';

describe('status: past days kept by oproc serve', () => {
  it('gives a day back until it is an hour old, and forgets days out of the window', () => {
    const kept = new PastDayRuns(3_600_000);
    kept.set('9.9.0', '2026-12-01', [300001, 300002], 0, '2026-11-08');
    expect(kept.get('9.9.0', '2026-12-01', 3_599_999)).to.deep.equal([300001, 300002]);
    expect(kept.get('9.9.0', '2026-12-01', 3_600_000), 'an hour old: read again').to.equal(undefined);
    expect(kept.get('9.9.1', '2026-12-01', 0), 'another RAT version').to.equal(undefined);
    kept.set('9.9.0', '2026-12-02', [300003], 10, '2026-12-02');
    expect(kept.get('9.9.0', '2026-12-01', 20), 'before the window').to.equal(undefined);
    expect(kept.get('9.9.0', '2026-12-02', 20)).to.deep.equal([300003]);
  });
});
