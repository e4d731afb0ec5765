import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import couchdbBackends from '../../plugins/couchdb/src/hooks/backends.js';
import type { DocumentStore } from '../../src/backends/types.js';
import { loadConfig } from '../../src/config/load.js';
import { backendContext, tempDir } from '../support/context.js';
import { freePort } from '../support/couch-server.js';
import { couchServer } from '../support/servers.js';

async function open(section: Record<string, unknown>, warnings: string[]): Promise<DocumentStore> {
  const factory = (await couchdbBackends()).documentStores!.couchdb!;
  const context = backendContext('processing', { backend: 'couchdb', ...section });
  context.helpers.warn = (message) => warnings.push(message);
  return factory(context);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('couchdb backend: several node URLs (urls)', () => {
  it('url and urls together, or an empty or bad urls, is a config error naming the key', async () => {
    const warnings: string[] = [];
    const both = await failure(
      open({ url: 'http://127.0.0.1:1', urls: ['http://127.0.0.1:2'], database: 'x' }, warnings),
    );
    expect(both.message).to.match(/processing\.urls: gives both url and urls/);
    expect((await failure(open({ urls: [], database: 'x' }, warnings))).message).to.match(
      /processing\.urls: must be a list of node URLs/,
    );
    const bad = await failure(
      open({ urls: ['http://127.0.0.1:5984', 'ftp://u:secret@h'], database: 'x' }, warnings),
    );
    expect(bad.message).to.match(/processing\.urls\[1\]: must be an http/);
    expect(bad.message).to.not.contain('secret');
  });

  it('CONFIG with both url and urls in a section is refused before any database is opened (exit 2)', async () => {
    const temp = await tempDir();
    try {
      const file = path.join(temp.dir, 'config.json');
      const section = { backend: 'couchdb', url: 'http://a:5984', urls: ['http://b:5984'], database: 'p' };
      await writeFile(
        file,
        JSON.stringify({ processing: section, dataflow: section, ratdb: { backend: 'pglite', path: 'r' } }),
      );
      const error = (await failure(loadConfig(file))) as Error & { exitCode?: number };
      expect(error.message).to.match(/processing\.urls: gives both url and urls/);
      expect(error.exitCode).to.equal(2);
    } finally {
      await temp.remove();
    }
  });

  it('uses the next node when the first is down, with one warning naming it', async () => {
    const server = await couchServer();
    const dead = `http://127.0.0.1:${await freePort()}`;
    const database = `oproc-test-${randomBytes(6).toString('hex')}`;
    const live = new URL(server.url);
    const warnings: string[] = [];
    const store = await open({ urls: [dead, live.href], database }, warnings);
    try {
      await store.create();
      const [row] = await store.bulkWrite([{ _id: 'job_1_Processing', type: 'job', passes: [] }]);
      expect(row).to.include({ ok: true });
      expect((await store.getMany(['job_1_Processing'])).size).to.equal(1);
      expect(warnings, 'one warning for the move').to.have.length(1);
      expect(warnings[0]).to.contain(`CouchDB node ${dead} failed`);
      expect(warnings[0]).to.match(/failed .*: using http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await store.close();
      await fetch(`${server.url}/${database}`, { method: 'DELETE' });
    }
  });
});
