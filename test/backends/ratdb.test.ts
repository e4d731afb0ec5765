import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { openPgliteRatdb } from '../../plugins/pglite/src/pglite-ratdb.js';
import { openPostgresRatdb } from '../../plugins/postgres/src/postgres-ratdb.js';
import { backendHelpers } from '../../src/backends/registry.js';
import type { BackendContext, Ratdb } from '../../src/backends/types.js';
import { passwordSource } from '../../src/config/credentials.js';
import { OprocError } from '../../src/errors.js';
import { backendContext, tempDir } from '../support/context.js';
import { createDatabase, createRole, freePort, postgresControl } from '../support/postgres-server.js';
import { postgresServer } from '../support/servers.js';
import { QueryCounter, ratdbContract, table } from './ratdb.contract.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const counter = new QueryCounter();

/** The core's context, with every statement the backend sends counted. */
function countingContext(
  section: Record<string, unknown>,
  options: Parameters<typeof backendContext>[2] = {},
) {
  const context = backendContext('ratdb', section, options);
  context.helpers.sqlRatdb = (client, description) =>
    backendHelpers.sqlRatdb(counter.wrap(client), description);
  return context;
}

ratdbContract(
  'postgres',
  async () => {
    const url = await createDatabase(await postgresServer());
    return {
      open: () => openPostgresRatdb(countingContext({ backend: 'postgres', url })),
      remove: async () => {},
    };
  },
  counter,
);

ratdbContract(
  'pglite',
  async () => {
    const temp = await tempDir('oproc-pglite-');
    return {
      open: () =>
        openPgliteRatdb(countingContext({ backend: 'pglite', path: 'ratdb' }, { baseDir: temp.dir })),
      remove: () => temp.remove(),
    };
  },
  counter,
);

async function failure(promise: Promise<unknown>): Promise<Error & { suggestions?: string[] }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

/** Runs `work` as if there were no terminal to ask a password on (as in scripts and CI). */
async function withoutTerminal<T>(work: () => Promise<T>): Promise<T> {
  const saved = [process.stdin.isTTY, process.stderr.isTTY];
  Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
  try {
    return await work();
  } finally {
    Object.defineProperty(process.stdin, 'isTTY', { value: saved[0], configurable: true });
    Object.defineProperty(process.stderr, 'isTTY', { value: saved[1], configurable: true });
  }
}

/** Sets environment variables for the duration of `work`. */
async function withEnv<T>(vars: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  try {
    return await work();
  } finally {
    apply(saved);
  }
}

describe('postgres RATDB backend', function () {
  /** A context whose password comes from the core's source: env var, else terminal, else an error. */
  function realContext(section: Record<string, unknown>): BackendContext {
    const context = backendContext('ratdb', section);
    context.password = passwordSource('ratdb', { backend: 'postgres', ...section });
    return context;
  }

  it('an unreachable server is named by its masked URL, never the password', async function () {
    const url = `postgres://u:secret@127.0.0.1:${await freePort()}/x`;
    const error = await failure(openPostgresRatdb(realContext({ backend: 'postgres', url })));
    expect(error.message).to.include(url.replace(':secret@', ':***@'));
    expect(error.message).not.to.include('secret');
    expect(error.message).to.match(/ECONNREFUSED/);
  });

  it('a url without a postgres scheme is a config error naming the key', async function () {
    const error = await failure(openPostgresRatdb(realContext({ backend: 'postgres', url: 'http://h/x' })));
    expect(error).to.be.instanceOf(OprocError);
    expect(error.message).to.include('ratdb.url');
  });

  it('a query during a short server outage is retried until the server is back', async function () {
    const server = postgresControl(await postgresServer());
    const ratdb = await openPostgresRatdb(
      realContext({ backend: 'postgres', url: await createDatabase(server) }),
    );
    try {
      await ratdb.create();
      await ratdb.load([table('RUN', [100, 100], { runtype: 2 })]);
      const before = server.pid;
      await server.halt();
      const answer = ratdb.runTypes([100]);
      // Awaited below; this only keeps an early failure from counting as unhandled meanwhile.
      answer.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 700));
      await server.start();
      expect(server.pid).not.to.equal(before);
      expect(await answer).to.deep.equal(new Map([[100, 2]]));
    } finally {
      await ratdb.close();
    }
  });

  describe('a role that needs a password', function () {
    let url: string;
    let user: string;
    const password = `pw-${randomBytes(4).toString('hex')}`;

    before(async function () {
      const server = await postgresServer();
      user = `reader_${randomBytes(4).toString('hex')}`;
      await createRole(server, user, password);
      const db = await createDatabase(server, undefined, { owner: user });
      url = db.replace('postgres://postgres@', `postgres://${user}@`);
    });

    async function loadAndRead(ratdb: Ratdb) {
      try {
        await ratdb.create();
        await ratdb.load([table('RUN', [100, 100], { runtype: 2 })]);
        return await ratdb.runTypes([100]);
      } finally {
        await ratdb.close();
      }
    }

    it('reads the password from OPROC_RATDB_PASSWORD', async function () {
      const types = await withEnv({ OPROC_RATDB_PASSWORD: password }, async () =>
        loadAndRead(await openPostgresRatdb(realContext({ backend: 'postgres', url }))),
      );
      expect(types.get(100)).to.equal(2);
    });

    it('reads the password from the variable password_env names', async function () {
      const section = { backend: 'postgres', url, password_env: 'RATDB_READER_PW' };
      const types = await withEnv({ RATDB_READER_PW: password, OPROC_RATDB_PASSWORD: undefined }, async () =>
        loadAndRead(await openPostgresRatdb(realContext(section))),
      );
      expect(types.get(100)).to.equal(2);
    });

    it('without the variable and without a terminal, fails naming the variable to set', async function () {
      const error = await withEnv({ OPROC_RATDB_PASSWORD: undefined }, () =>
        withoutTerminal(() => failure(openPostgresRatdb(realContext({ backend: 'postgres', url })))),
      );
      expect(error).to.be.instanceOf(OprocError);
      expect(error.message).to.include(`password for user "${user}"`);
      expect(error.suggestions?.join(' ')).to.include('OPROC_RATDB_PASSWORD');
    });

    it('a wrong password fails naming the user and the variable, not the password', async function () {
      const error = await withEnv({ OPROC_RATDB_PASSWORD: 'not-the-password' }, () =>
        failure(openPostgresRatdb(realContext({ backend: 'postgres', url }))),
      );
      expect(error.message).to.include(`user "${user}"`);
      expect(error.message).to.include('OPROC_RATDB_PASSWORD');
      expect(error.message).not.to.include('not-the-password');
    });
  });
});

describe('pglite RATDB backend', function () {
  let temp: { dir: string; remove(): Promise<void> };
  let holder: ChildProcess | undefined;

  beforeEach(async function () {
    temp = await tempDir('oproc-pglite-');
  });

  afterEach(async function () {
    if (holder?.pid !== undefined && holder.exitCode === null && holder.signalCode === null) {
      process.kill(holder.pid, 'SIGKILL');
    }
    holder = undefined;
    await temp.remove();
  });

  const open = () =>
    openPgliteRatdb(backendContext('ratdb', { backend: 'pglite', path: 'ratdb' }, { baseDir: temp.dir }));

  /** Starts a process holding the RATDB open; resolves once it has opened it. */
  function startHolder(): Promise<ChildProcess> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'ratdb.lock-holder.ts'), path.join(temp.dir, 'ratdb')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    holder = child;
    return new Promise((resolve, reject) => {
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().startsWith('open ')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}: ${stderr}`)));
    });
  }

  async function killHolder(child: ChildProcess) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }

  it('a path that is missing from the section is a config error naming the key', async function () {
    const error = await failure(openPgliteRatdb(backendContext('ratdb', { backend: 'pglite' })));
    expect(error).to.be.instanceOf(OprocError);
    expect(error.message).to.include('ratdb.path');
  });

  it('a second process opening the same path is told which process has it', async function () {
    this.timeout(120_000);
    const child = await startHolder();
    const error = await failure(open());
    expect(error).to.be.instanceOf(OprocError);
    expect(error.message).to.include(`in use by process ${child.pid}`);
    await killHolder(child);
    // The lock of a process that is gone is taken over.
    const ratdb = await open();
    await ratdb.close();
  });

  it('the lock is released by close, so the path opens again', async function () {
    const first = await open();
    const error = await failure(open());
    expect(error.message).to.include(`in use by process ${process.pid}`);
    await first.close();
    const second = await open();
    await second.create();
    await second.close();
  });
});
