// Mocha's spec reporter, plus the wall time of each test file (its hooks included) at the end of
// the run, slowest first, so docs/ci.md can say where the suite's time goes.
'use strict';
const path = require('node:path');
const Mocha = require('mocha');

const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_RUN_END } = Mocha.Runner.constants;

class TimingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const started = new Map();
    const spent = new Map();
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (suite.file && suite.parent?.root) started.set(suite, Date.now());
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      const begun = started.get(suite);
      if (begun === undefined) return;
      const file = path.relative(process.cwd(), suite.file);
      spent.set(file, (spent.get(file) ?? 0) + (Date.now() - begun));
    });
    runner.once(EVENT_RUN_END, () => {
      const rows = [...spent].sort((a, b) => b[1] - a[1]);
      if (rows.length === 0) return;
      Mocha.reporters.Base.consoleLog('\n  wall time by test file (hooks included), slowest first:');
      for (const [file, ms] of rows) {
        Mocha.reporters.Base.consoleLog(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file}`);
      }
    });
  }
}

module.exports = TimingReporter;
