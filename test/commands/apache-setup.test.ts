/**
 * Setting oproc up on real Apache CouchDB 3 as a site does: `oproc init` as a server admin (the
 * password from `password_env`), then everyday commands as a member user; and the clear config
 * errors when the user lacks the rights. Only on Apache CouchDB: pouchdb-server has no admin-only
 * databases.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import { openDatabases } from '../../src/backends/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import { apacheCouchServer, couchRequest, deleteDatabases } from '../support/apache-couch.js';
import { oneLine, runCli } from '../support/cli.js';
import { tempDir } from '../support/context.js';
import { createDatabase } from '../support/postgres-server.js';
import {
  dataflowDocsFor,
  describeKind,
  ratdbTablesFor,
  registry,
  testProcessingInformation,
} from '../support/scenario.js';
import { postgresServer } from '../support/servers.js';

/** stderr without spaces: oclif wraps long messages anywhere, even inside a URL. */
const squeezed = (text: string) => oneLine(text).replace(/\s+/g, '');

describeKind('apache', 'setting oproc up on Apache CouchDB: admin init, member use', function () {
  this.timeout(120_000);
  const name = `oproc-setup-${randomBytes(4).toString('hex')}`;
  const member = `${name}-member`;
  const memberPassword = `m-${randomBytes(8).toString('hex')}`;
  const databases = { processing: `${name}-processing`, dataflow: `${name}-dataflow` };
  let admin: URL;
  let adminPassword: string;
  let dir: string;
  let remove: () => Promise<void>;
  let ratdbUrl: string;

  /** The origin with a user and no password, as a config names it. */
  const userUrl = (user: string) => {
    const url = new URL(admin.origin);
    url.username = user;
    return url.href.replace(/\/$/, '');
  };
  const writeConfig = async (file: string, user: string, passwordEnv: string) => {
    const couch = (database: string) => ({
      backend: 'couchdb',
      url: userUrl(user),
      database,
      password_env: passwordEnv,
    });
    const config = {
      processing: couch(databases.processing),
      dataflow: couch(databases.dataflow),
      ratdb: { backend: 'postgres', url: ratdbUrl },
      processing_information: 'info.json',
    };
    const target = path.join(dir, file);
    await writeFile(target, JSON.stringify(config, null, 2));
    return target;
  };

  before(async () => {
    const server = (await apacheCouchServer())!;
    admin = new URL(server.url);
    adminPassword = decodeURIComponent(admin.password);
    ({ dir, remove } = await tempDir('oproc-apache-setup-'));
    ratdbUrl = await createDatabase(await postgresServer());
    await writeFile(path.join(dir, 'info.json'), JSON.stringify(testProcessingInformation));
    const user = { name: member, password: memberPassword, roles: [], type: 'user' };
    const created = await couchRequest(server.url, 'PUT', `/_users/org.couchdb.user:${member}`, user);
    expect(created.status, JSON.stringify(created.body)).to.be.oneOf([201, 202]);
  });
  after(async () => {
    await deleteDatabases(admin.href, Object.values(databases));
    await couchRequest(admin.href, 'GET', `/_users/org.couchdb.user:${member}`).then(async (user) => {
      const rev = (user.body as { _rev?: string } | undefined)?._rev;
      if (rev) await couchRequest(admin.href, 'DELETE', `/_users/org.couchdb.user:${member}?rev=${rev}`);
    });
    await remove?.();
  });

  it('a member cannot create the databases: exit 2 naming the database, nothing created, no password shown', async () => {
    const config = await writeConfig('member.json', member, 'SITE_COUCH_PASSWORD');
    const result = await runCli(['init', config], { env: { SITE_COUCH_PASSWORD: memberPassword } });
    expect(result.code, result.stderr).to.equal(2);
    const message = squeezed(result.stderr);
    expect(message).to.contain(squeezed(`user "${member}" may not create the database`));
    expect(message).to.contain(`${userUrl(member)}/${databases.processing}`);
    expect(message).to.contain(squeezed('only a CouchDB server admin may'));
    expect(`${result.stdout}${result.stderr}`).to.not.contain(memberPassword);
    expect((await couchRequest(admin.href, 'GET', `/${databases.processing}`)).status).to.equal(404);
  });

  it('init as the admin (password from password_env) creates them; then the member, given access, reprocesses', async () => {
    const adminConfig = await writeConfig(
      'admin.json',
      decodeURIComponent(admin.username),
      'SITE_ADMIN_PASSWORD',
    );
    const init = await runCli(['init', adminConfig], { env: { SITE_ADMIN_PASSWORD: adminPassword } });
    expect(init.code, init.stderr).to.equal(0);
    expect(init.stdout).to.contain(`processing database ready: ${userUrl('admin')}/${databases.processing}`);
    expect(`${init.stdout}${init.stderr}`).to.not.contain(adminPassword);

    // New databases are admin-only: the member is refused until an admin makes it a member.
    const memberConfig = await writeConfig('member.json', member, 'SITE_COUCH_PASSWORD');
    const env = { SITE_COUCH_PASSWORD: memberPassword };
    const refused = await runCli(
      ['reprocess', 'one-shot', memberConfig, testProcessingInformation.ratv, 'L2', '300000'],
      { env },
    );
    expect(refused.code, refused.stderr).to.equal(2);
    expect(squeezed(refused.stderr)).to.contain(
      squeezed(`CouchDB refused user "${member}" access to ${userUrl(member)}/${databases.processing}`),
    );

    const security = { admins: { names: [], roles: [] }, members: { names: [member], roles: [] } };
    for (const database of Object.values(databases)) {
      const answer = await couchRequest(admin.href, 'PUT', `/${database}/_security`, security);
      expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    }
    // The data-flow files and the RATDB tables of two runs (300001 completes 300000).
    const files = [300000, 300001].flatMap((run) => dataflowDocsFor({ run, filetypes: ['L2'], subruns: 2 }));
    const written = await couchRequest(admin.href, 'POST', `/${databases.dataflow}/_bulk_docs`, {
      docs: files,
    });
    expect(written.status).to.equal(201);
    const ratdb = await openDatabases(await registry(), await loadConfig(memberConfig), { ratdb: true });
    try {
      await ratdb.ratdb.create();
      await ratdb.ratdb.load(ratdbTablesFor({ run: 300000 }));
    } finally {
      await ratdb.close();
    }

    const again = await runCli(['init', memberConfig], { env });
    expect(again.code, `a member may run init on databases that exist: ${again.stderr}`).to.equal(0);
    const result = await runCli(
      ['reprocess', 'one-shot', memberConfig, testProcessingInformation.ratv, 'L2', '300000'],
      { env },
    );
    expect(result.code, `${result.stdout}${result.stderr}`).to.equal(0);
    const job = await couchRequest(
      admin.href,
      'GET',
      `/${databases.processing}/${ids.job(300000, 'Processing')}`,
    );
    expect(job.status).to.equal(200);
    const doc = job.body as JobDocument;
    expect(doc.passes.map((p) => [p.pass, p.status, p.subjobs.length])).to.deep.equal([[0, 'waiting', 2]]);
    expect(`${result.stdout}${result.stderr}`).to.not.contain(memberPassword);
  });
});
