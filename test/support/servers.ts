/**
 * Real database servers for integration tests, started once per test run on free loopback ports
 * and stopped (by PID) when the run ends. Suites ask for them lazily, so a run that needs neither
 * starts neither.
 */
import { stopApacheCouchServer } from './apache-couch.js';
import { startCouch } from './couch-server.js';
import { startPostgres } from './postgres-server.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:40123 or postgres://postgres@127.0.0.1:40124 */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

let couch: Promise<RunningServer> | undefined;
let postgres: Promise<RunningServer> | undefined;

export function couchServer(): Promise<RunningServer> {
  couch ??= startCouch();
  return couch;
}

export function postgresServer(): Promise<RunningServer> {
  postgres ??= startPostgres();
  return postgres;
}

/** Mocha root hooks (loaded through .mocharc `require`): stop whatever was started. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    const started = [couch, postgres].filter((s): s is Promise<RunningServer> => s !== undefined);
    couch = undefined;
    postgres = undefined;
    await Promise.allSettled([...started.map(async (s) => (await s).stop()), stopApacheCouchServer()]);
  },
};
