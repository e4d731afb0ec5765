/**
 * A CouchDB-protocol server for tests: `pouchdb-server` on a free loopback port, its data on disk
 * in a fresh temporary directory so a test can stop it and start it again (outage tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { freePort } from './ports.js';
import type { RunningServer } from './servers.js';

export { freePort };

const host = '127.0.0.1';

export interface RunningCouch extends RunningServer {
  /** The directory holding the databases, config and `server.log`. */
  dir: string;
  /** Stops the server (by PID) but keeps its data and port, for `start()` again. */
  stopOnly(): Promise<void>;
  /** Starts it again on the same port with the same data (after `stopOnly()`). */
  start(): Promise<void>;
  /** `stopOnly()` then `start()`. */
  restart(): Promise<void>;
}

function serverScript(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('pouchdb-server/package.json');
  return path.join(path.dirname(packageJson), 'bin', 'pouchdb-server');
}

/** Resolves when the process has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM by PID, SIGKILL after a few seconds, then waits for the exit. */
async function kill(child: ChildProcess): Promise<void> {
  const done = exited(child);
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return done;
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
      process.kill(child.pid, 'SIGKILL');
  }, 3000);
  await done;
  clearTimeout(timer);
}

async function waitUntilUp(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`pouchdb-server exited with ${child.exitCode}; see ${logFile}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await kill(child);
  throw new Error(`pouchdb-server did not answer on ${url} within 30 s; see ${logFile}`);
}

function launch(dir: string, port: number): { child: ChildProcess; logFile: string } {
  const logFile = path.join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const args = [serverScript(), '--host', host, '--port', String(port), '--dir', path.join(dir, 'data')];
  args.push('--config', path.join(dir, 'config.json'), '--no-color');
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', log, log] });
  closeSync(log);
  return { child, logFile };
}

/** Starts pouchdb-server on a free loopback port with its data in a new temporary directory. */
export async function startCouch(): Promise<RunningCouch> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-couch-'));
  // The log file must be inside the server's directory, not the test's working directory.
  const config = { log: { file: path.join(dir, 'pouchdb-server.log') } };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  const port = await freePort();
  const url = `http://${host}:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const launched = launch(dir, port);
    child = launched.child;
    await waitUntilUp(url, launched.child, launched.logFile);
  };
  const stopOnly = async () => {
    if (child) await kill(child);
  };
  try {
    await start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    dir,
    get pid() {
      return child?.pid ?? 0;
    },
    start,
    stopOnly,
    restart: async () => {
      await stopOnly();
      await start();
    },
    stop: async () => {
      await stopOnly();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
