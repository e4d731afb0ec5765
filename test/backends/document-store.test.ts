import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';
import type PouchDB from 'pouchdb';

import couchdbBackends from '../../plugins/couchdb/src/hooks/backends.js';
import pouchdbBackends from '../../plugins/pouchdb/src/hooks/backends.js';
import type { BackendContext, DocumentStore, DocumentStoreFactory } from '../../src/backends/types.js';
import {
  apacheCouchMissing,
  apacheCouchServer,
  couchRequest,
  deleteDatabases,
} from '../support/apache-couch.js';
import { httpDatabase } from '../support/bulk-seed.js';
import { backendContext, tempDir } from '../support/context.js';
import { describeKind } from '../support/scenario.js';
import { freePort, startCouch, type RunningCouch } from '../support/couch-server.js';
import { couchServer } from '../support/servers.js';
import { documentStoreContract } from './document-store.contract.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function couchdbFactory(): Promise<DocumentStoreFactory> {
  const factory = (await couchdbBackends()).documentStores?.couchdb;
  if (!factory) throw new Error('the couchdb plugin provides no document store');
  return factory;
}

async function pouchdbFactory(): Promise<DocumentStoreFactory> {
  const factory = (await pouchdbBackends()).documentStores?.pouchdb;
  if (!factory) throw new Error('the pouchdb plugin provides no document store');
  return factory;
}

function freshDatabaseName(): string {
  return `oproc-test-${randomBytes(6).toString('hex')}`;
}

/** The rejection of a promise that must fail. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a failure, but it succeeded');
}

async function openCouch(
  section: Record<string, unknown>,
  options: Parameters<typeof backendContext>[2] = {},
) {
  return (await couchdbFactory())(backendContext('processing', { backend: 'couchdb', ...section }, options));
}

documentStoreContract('couchdb (CouchDB protocol server)', async () => {
  const server = await couchServer();
  const section = { url: server.url, database: freshDatabaseName() };
  const store = await openCouch(section);
  const elsewhere = await openCouch(section);
  return {
    store,
    elsewhere,
    replicate: async (docs) => {
      const response = await fetch(`${server.url}/${section.database}/_bulk_docs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ docs, new_edits: false }),
      });
      expect(response.status, await response.text()).to.equal(201);
    },
    cleanup: async () => {
      await Promise.all([store.close(), elsewhere.close()]);
      await fetch(`${server.url}/${section.database}`, { method: 'DELETE' });
    },
  };
});

const apacheMissing = apacheCouchMissing();
if (apacheMissing) {
  describe('document store contract: couchdb (Apache CouchDB)', () => it(`skipped: ${apacheMissing}`));
} else {
  documentStoreContract('couchdb (Apache CouchDB)', async () => {
    const server = (await apacheCouchServer())!;
    const section = { url: server.url, database: freshDatabaseName() };
    const store = await openCouch(section);
    const elsewhere = await openCouch(section);
    return {
      store,
      elsewhere,
      replicate: async (docs) => {
        const db = httpDatabase(server.url, section.database);
        const response = await fetch(`${db.url}/_bulk_docs`, {
          method: 'POST',
          headers: db.headers,
          body: JSON.stringify({ docs, new_edits: false }),
        });
        expect(response.status, await response.text()).to.equal(201);
      },
      cleanup: async () => {
        await Promise.all([store.close(), elsewhere.close()]);
        await deleteDatabases(server.url, [section.database]);
      },
    };
  });
}

documentStoreContract('pouchdb (embedded)', async () => {
  const temp = await tempDir('oproc-pouchdb-');
  const store = await (
    await pouchdbFactory()
  )(backendContext('processing', { backend: 'pouchdb', path: 'processing' }, { baseDir: temp.dir }));
  return {
    store,
    elsewhere: store, // one process per embedded database: "elsewhere" is another caller of the same store
    replicate: async (docs) => {
      // The embedded database itself, as a replication would write to it.
      const db = (store as unknown as { db: PouchDB.Database }).db;
      await db.bulkDocs(
        docs.map((d) => ({ ...d })),
        { new_edits: false },
      );
    },
    cleanup: async () => {
      await store.close();
      await temp.remove();
    },
  };
});

describe('couchdb backend', () => {
  it('names a missing url or database in the config', async () => {
    const server = await couchServer();
    expect((await failure(openCouch({ database: 'x' }))).message).to.match(/processing\.url: is missing/);
    expect((await failure(openCouch({ url: server.url }))).message).to.match(
      /processing\.database: is missing/,
    );
    expect((await failure(openCouch({ url: 'ftp://example.invalid', database: 'x' }))).message).to.match(
      /processing\.url: must be an http/,
    );
    expect((await failure(openCouch({ url: server.url, database: 'Data$Flow' }))).message).to.match(
      /processing\.database: "Data\$Flow" is not a valid CouchDB database name/,
    );
  });

  it('pouchdb-server is one server: no copies to wait for, so writers do not read their writes back', async () => {
    const server = await couchServer();
    const store = await openCouch({ url: server.url, database: freshDatabaseName() });
    try {
      expect(await store.replicationLagMs!()).to.equal(0);
    } finally {
      await store.close();
    }
  });

  it('an unreachable server is an error naming its masked URL, never the password', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await failure(
      openCouch({ url: `http://oproc:secret@127.0.0.1:${port}`, database: 'data-flow' }),
    );
    expect(error.message).to.contain(`http://oproc:***@127.0.0.1:${port}`);
    expect(error.message).to.contain('unreachable');
    expect(error.message).to.not.contain('secret');
    expect(JSON.stringify(error)).to.not.contain('secret');
    expect(Date.now() - started, 'fails fast at open').to.be.below(10_000);
  });

  it('opening does not create the database, and using a missing one says to run oproc init', async () => {
    const server = await couchServer();
    const store = await openCouch({ url: server.url, database: freshDatabaseName() });
    try {
      const error = await failure(store.getMany(['job_300050_Processing']));
      expect(error.message).to.match(/does not exist: run `oproc init CONFIG`/);
      expect(error.message).to.contain(store.description);
      expect((await failure(store.currentSeq!())).message).to.match(/does not exist/);
      expect((await failure(store.changes!({ since: '0' }))).message).to.match(/does not exist/);
    } finally {
      await store.close();
    }
  });

  it('a read while the server is briefly down is retried and succeeds when it is back', async function () {
    this.timeout(60_000);
    const server = await startCouch();
    const store = await openCouch({ url: server.url, database: 'outage' });
    try {
      await store.create();
      await store.bulkWrite([{ _id: 'job_1_Processing', run: 1 }]);
      await server.stopOnly();
      const reading = store.getMany(['job_1_Processing']);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await server.start();
      expect((await reading).get('job_1_Processing')).to.include({ run: 1 });
    } finally {
      await store.close();
      await server.stop();
    }
  });

  describe('on a server that requires a password', () => {
    let server: RunningCouch;
    const database = 'secured';

    before(async function () {
      this.timeout(60_000);
      server = await startCouch();
      // A server admin ends pouchdb-server's "admin party"; members make the database need a login.
      const admin = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
      const put = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
        const init = {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        };
        const response = await fetch(url, init);
        if (!response.ok) throw new Error(`PUT ${url}: ${response.status} ${await response.text()}`);
      };
      await put(`${server.url}/_config/admins/admin`, 'secret');
      await put(`${server.url}/${database}`, undefined, admin);
      const members = { admins: { names: ['admin'], roles: [] }, members: { names: ['admin'], roles: [] } };
      await put(`${server.url}/${database}/_security`, members, admin);
    });
    after(async () => {
      await server?.stop();
    });

    function url(userinfo: string) {
      return server.url.replace('http://', `http://${userinfo}@`);
    }

    it('asks for the password of the URL user once, then reads and writes', async () => {
      const asked: string[] = [];
      const password = async (user: string) => {
        asked.push(user);
        return 'secret';
      };
      const store = await openCouch({ url: url('admin'), database }, { password });
      try {
        const [row] = await store.bulkWrite([{ _id: 'job_1_Processing', run: 1 }]);
        expect(row).to.include({ ok: true });
        expect((await store.getMany(['job_1_Processing'])).get('job_1_Processing')).to.include({ run: 1 });
        expect(asked).to.deep.equal(['admin']);
      } finally {
        await store.close();
      }
    });

    it('a wrong password is refused clearly, without showing it', async () => {
      const error = await failure(
        openCouch({ url: url('admin'), database }, { password: async () => 'hunter2' }),
      );
      expect(error.message).to.contain('refused the password of user "admin"');
      expect(error.message).to.not.contain('hunter2');
    });

    it('a password in the URL is used as given, and the description masks it', async () => {
      const store = await openCouch({ url: url('admin:secret'), database });
      try {
        expect(await store.currentSeq!()).to.be.a('string');
        expect(store.description).to.equal(`${url('admin:***')}/${database}`);
      } finally {
        await store.close();
      }
    });

    it('a URL without a user says to name one', async () => {
      const error = await failure(openCouch({ url: server.url, database }));
      expect(error.message).to.match(
        /refused access to .*\/secured without a login \(HTTP 401\): name a user in the url/,
      );
    });
  });
});

/** Real Apache CouchDB 3: new databases are admin-only, and only a server admin creates one. */
describeKind('apache', 'couchdb backend on Apache CouchDB', function () {
  this.timeout(60_000);
  let admin: string;
  let plain: URL;
  const user = `oproc-user-${randomBytes(4).toString('hex')}`;
  const created: string[] = [];
  const as = (name: string, password?: string) => {
    const url = new URL(plain.href);
    url.username = name;
    if (password !== undefined) url.password = password;
    return url.href.replace(/\/$/, '');
  };
  const adminDatabase = async () => {
    const name = freshDatabaseName();
    created.push(name);
    expect((await couchRequest(admin, 'PUT', `/${name}`)).status).to.equal(201);
    return name;
  };

  before(async () => {
    admin = (await apacheCouchServer())!.url;
    plain = new URL(admin);
    plain.username = '';
    plain.password = '';
    const doc = { name: user, password: 'member-secret', roles: [], type: 'user' };
    const answer = await couchRequest(admin, 'PUT', `/_users/org.couchdb.user:${user}`, doc);
    expect(answer.status, JSON.stringify(answer.body)).to.be.oneOf([201, 202]);
  });
  after(async () => {
    if (admin) await deleteDatabases(admin, created);
  });

  it('creating a database without a login is a config error naming it (URL masked)', async () => {
    const database = freshDatabaseName();
    const store = await openCouch({ url: as(''), database });
    try {
      const error = await failure(store.create());
      expect(error.message).to.contain(`refused creating the database ${plain.origin}/${database}`);
      expect(error.message).to.contain('without a login (HTTP 401)');
      expect(error.message).to.match(/^config test-config: processing\.url: /);
    } finally {
      await store.close();
    }
  });

  it('a user who is not a server admin may not create a database, and is told who may', async () => {
    const database = freshDatabaseName();
    const store = await openCouch({ url: as(user, 'member-secret'), database });
    try {
      const error = await failure(store.create());
      expect(error.message).to.contain(`user "${user}" may not create the database`);
      expect(error.message).to.contain(`${as(user, '***')}/${database}`);
      expect(error.message).to.contain('only a CouchDB server admin may');
      expect(error.message).to.not.contain('member-secret');
    } finally {
      await store.close();
    }
    expect((await couchRequest(admin, 'GET', `/${database}`)).status, 'nothing created').to.equal(404);
  });

  it('an admin-only database refuses a user who is not its member, at open, naming it', async () => {
    const database = await adminDatabase();
    const error = await failure(openCouch({ url: as(user, 'member-secret'), database }));
    expect(error.message).to.contain(
      `CouchDB refused user "${user}" access to ${as(user, '***')}/${database}`,
    );
    expect(error.message).to.contain('HTTP 403');
    expect(error.message).to.contain('_security');
    const anonymous = await failure(openCouch({ url: as(''), database }));
    expect(anonymous.message).to.contain(`refused access to ${plain.origin}/${database} without a login`);
  });

  it('a wrong password is refused as such, not as missing rights', async () => {
    const error = await failure(openCouch({ url: as(user, 'hunter2'), database: freshDatabaseName() }));
    expect(error.message).to.contain(`refused the password of user "${user}"`);
    expect(error.message).to.not.contain('hunter2');
  });

  it('a member (granted in _security) reads and writes with the password asked for once', async () => {
    const database = await adminDatabase();
    const security = { admins: { names: [], roles: [] }, members: { names: [user], roles: [] } };
    expect((await couchRequest(admin, 'PUT', `/${database}/_security`, security)).status).to.equal(200);
    const asked: string[] = [];
    const store = await openCouch(
      { url: as(user), database },
      {
        password: async (name) => {
          asked.push(name);
          return 'member-secret';
        },
      },
    );
    try {
      await store.create(); // exists: no admin needed
      expect(await store.bulkWrite([{ _id: 'job_1_Processing', run: 1 }])).to.have.length(1);
      expect((await store.getMany(['job_1_Processing'])).get('job_1_Processing')).to.include({ run: 1 });
      expect(asked).to.deep.equal([user]);
      // Design documents are a database admin's: a member is told so, not that it is no member.
      const error = await failure(
        store.ensureDesign({ name: 'oproc', views: { v: { map: 'function (doc) {}' } } }),
      );
      expect(error.message).to.contain(`user "${user}" may not write _design/oproc in`);
      expect(error.message).to.contain('only an admin of the database or a server admin may');
    } finally {
      await store.close();
    }
  });

  it('one node has no copies, for an admin and for a member who may not read _membership: no re-check, no wait', async () => {
    const database = await adminDatabase();
    const security = { admins: { names: [], roles: [] }, members: { names: [user], roles: [] } };
    expect((await couchRequest(admin, 'PUT', `/${database}/_security`, security)).status).to.equal(200);
    const asAdmin = await openCouch({ url: admin, database });
    const asMember = await openCouch({ url: as(user, 'member-secret'), database });
    try {
      expect(await asAdmin.replicationLagMs!()).to.equal(0);
      expect(await asMember.replicationLagMs!()).to.equal(0);
    } finally {
      await Promise.all([asAdmin.close(), asMember.close()]);
    }
  });

  it('a missing database (404 not_found, whatever the reason) says to run oproc init', async () => {
    const store = await openCouch({ url: admin, database: freshDatabaseName() });
    try {
      expect((await failure(store.getMany(['job_1_Processing']))).message).to.match(
        /does not exist: run `oproc init CONFIG`/,
      );
      expect((await failure(store.currentSeq!())).message).to.match(/does not exist/);
    } finally {
      await store.close();
    }
  });
});

describe('pouchdb backend', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let holder: ChildProcess | undefined;
  const open = async (
    section: Record<string, unknown>,
    context: Partial<BackendContext> = {},
  ): Promise<DocumentStore> =>
    (await pouchdbFactory())({
      ...backendContext('processing', { backend: 'pouchdb', ...section }, { baseDir: temp.dir }),
      ...context,
    });

  beforeEach(async () => {
    temp = await tempDir('oproc-pouchdb-');
  });
  afterEach(async () => {
    if (holder?.pid !== undefined && holder.exitCode === null && holder.signalCode === null) {
      const exited = new Promise((resolve) => holder!.once('exit', resolve));
      process.kill(holder.pid, 'SIGKILL');
      await exited;
    }
    holder = undefined;
    await temp.remove();
  });

  it('a missing path is a config error', async () => {
    expect((await failure(open({}))).message).to.match(/processing\.path: is missing/);
  });

  it('takes a relative path from the config directory, creating parent directories', async () => {
    const store = await open({ path: 'oproc/data/processing' });
    try {
      expect(store.description).to.equal(path.join(temp.dir, 'oproc/data/processing'));
      expect(existsSync(path.join(temp.dir, 'oproc/data/processing'))).to.equal(true);
    } finally {
      await store.close();
    }
  });

  it('keeps its documents across close and open', async () => {
    const first = await open({ path: 'processing' });
    await first.bulkWrite([{ _id: 'submission_1', type: 'submission' }]);
    await first.close();
    const again = await open({ path: 'processing' });
    try {
      expect((await again.getMany(['submission_1'])).get('submission_1')).to.include({ type: 'submission' });
    } finally {
      await again.close();
    }
  });

  it('a second process opening the same path is told which process has it', async function () {
    this.timeout(30_000);
    const location = path.join(temp.dir, 'processing');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'document-store.holder.ts'), location],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    holder = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('open ')) resolve();
      });
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`the holder exited with ${code}: ${output}`)));
    });
    const error = await failure(open({ path: 'processing' }));
    expect(error.message).to.contain(`is in use by process ${child.pid}`);
    expect(error.message).to.contain(location);
  });

  it('close() releases the lock: the path opens again', async () => {
    const store = await open({ path: 'processing' });
    expect(existsSync(path.join(temp.dir, 'processing.lock'))).to.equal(true);
    await store.close();
    expect(existsSync(path.join(temp.dir, 'processing.lock'))).to.equal(false);
    const again = await open({ path: 'processing' });
    await again.close();
  });
});
