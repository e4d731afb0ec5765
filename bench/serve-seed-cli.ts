/**
 * Seeds the status scenario's databases and builds their views in a process of its own, for the
 * embedded backends: PouchDB keeps a view index locked by the process that opened it, and the lock
 * would stop the `oproc serve` that follows.
 *
 *   node --import tsx bench/serve-seed-cli.ts CONFIG JOBS   (prints the figures as JSON)
 */
import { seedAndBuild } from './serve.js';

const [config, jobs] = process.argv.slice(2);
if (!config || !jobs) throw new Error('usage: serve-seed-cli.ts CONFIG JOBS');
console.log(JSON.stringify(await seedAndBuild(config, undefined, Number(jobs))));
