/**
 * Seeds one config's databases in a process of its own, for the embedded backends: PouchDB keeps
 * its view index open after `close()`, and its lock would stop the oproc process that follows.
 *
 *   node --import tsx bench/seed-cli.ts CONFIG RUNS SUBRUNS   (prints the seeding figures as JSON)
 */
import { seed } from './seed.js';

const [config, runs, subruns] = process.argv.slice(2);
if (!config || !runs || !subruns) throw new Error('usage: seed-cli.ts CONFIG RUNS SUBRUNS');
console.log(JSON.stringify(await seed(config, { runs: Number(runs), subruns: Number(subruns) })));
