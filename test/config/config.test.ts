import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';
import fc from 'fast-check';

import { loadConfig } from '../../src/config/load.js';
import { OprocError } from '../../src/errors.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/context.js';
import { freePort } from '../support/couch-server.js';

const embedded = {
  processing: { backend: 'pouchdb', path: 'db/processing' },
  dataflow: { backend: 'pouchdb', path: 'db/processing' },
  ratdb: { backend: 'pglite', path: 'db/ratdb' },
};

describe('CONFIG', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const loadError = async (file: string): Promise<OprocError> => {
    try {
      await loadConfig(file);
    } catch (error) {
      expect(error).to.be.instanceOf(OprocError);
      return error as OprocError;
    }
    throw new Error('loadConfig accepted it');
  };

  beforeEach(async () => ({ dir, remove } = await tempDir()));
  afterEach(() => remove());

  it('reads JSON and YAML alike, with paths relative to the config file and defaults filled', async () => {
    const yaml = await write(
      'site.yaml',
      'processing: {backend: pouchdb, path: db/p}\ndataflow: {backend: pouchdb, path: db/p}\nratdb: {backend: pglite, path: db/r}\nprocessing_information: info.json\n',
    );
    const config = await loadConfig(yaml);
    expect(config.processing).to.deep.equal({ backend: 'pouchdb', path: 'db/p' });
    expect(config.processingInformationFiles).to.deep.equal([path.join(dir, 'info.json')]);
    expect(config.selector).to.equal('run-type');
    expect(config.watch).to.deep.equal({ intervalSeconds: 30, leaseSeconds: 60 });
    const json = await loadConfig(await write('site.json', JSON.stringify(embedded)));
    expect(json.ratdb).to.deep.equal(embedded.ratdb);
  });

  it('names the file and the missing key', async () => {
    const error = await loadError(
      await write('c.json', JSON.stringify({ processing: embedded.processing, dataflow: embedded.dataflow })),
    );
    expect(error.message).to.equal(`config ${path.join(dir, 'c.json')}: ratdb: is missing`);
    expect(error.exitCode).to.equal(2);
  });

  it('names the key whose value has the wrong type', async () => {
    const error = await loadError(
      await write('c.json', JSON.stringify({ ...embedded, watch: { interval_seconds: 'often' } })),
    );
    expect(error.message).to.match(/c\.json: watch\.interval_seconds: expected number, received string/);
  });

  it('reads watch.stall_seconds, and refuses one that is not above zero', async () => {
    const config = await loadConfig(
      await write('c.json', JSON.stringify({ ...embedded, watch: { stall_seconds: 300 } })),
    );
    expect(config.watch).to.deep.equal({ intervalSeconds: 30, leaseSeconds: 60, stallSeconds: 300 });
    const error = await loadError(
      await write('c.json', JSON.stringify({ ...embedded, watch: { stall_seconds: 0 } })),
    );
    expect(error.message).to.match(/c\.json: watch\.stall_seconds: .*>0/);
    expect(error.exitCode).to.equal(2);
  });

  it('gives the line and column of invalid JSON and of invalid YAML', async () => {
    const json = await loadError(await write('c.json', '{\n  "processing": {\n    "backend": "pouchdb",,\n'));
    expect(json.message).to.match(/c\.json: invalid JSON at line 3, column 26/);
    const yaml = await loadError(await write('c.yaml', 'processing:\n  backend: [pouchdb\nratdb: x\n'));
    expect(yaml.message).to.match(/c\.yaml: invalid YAML at line \d+, column \d+/);
  });

  it('says when the file is missing or unreadable', async () => {
    expect((await loadError(path.join(dir, 'none.json'))).message).to.match(
      /cannot read config .*none\.json: no such file/,
    );
    if (process.getuid?.() !== 0) {
      const file = await write('secret.json', '{}');
      await chmod(file, 0);
      expect((await loadError(file)).message).to.match(/permission denied/);
    }
  });

  it('never crashes on arbitrary text: a config or a usage error', async () => {
    const file = path.join(dir, 'fuzz.yaml');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.uint8Array().map((b) => Buffer.from(b).toString('latin1')),
        ),
        async (text) => {
          await writeFile(file, text);
          try {
            await loadConfig(file);
          } catch (error) {
            expect(error, String(error)).to.be.instanceOf(OprocError);
            expect((error as OprocError).exitCode).to.equal(2);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  describe('on the command line: exit 2, the problem named, nothing written', function () {
    this.timeout(60_000);
    const init = (file: string) => runCli(['init', file]);
    const nothingWritten = () => expect(existsSync(path.join(dir, 'db'))).to.equal(false);

    it('an unknown backend lists the installed ones', async () => {
      const result = await init(
        await write('c.json', JSON.stringify({ ...embedded, ratdb: { backend: 'sqlite', path: 'db/r' } })),
      );
      expect(result.code).to.equal(2);
      expect(result.stderr.replace(/\s*›\s*/g, ' ')).to.match(
        /ratdb\.backend: unknown RATDB backend "sqlite" \(installed: pglite, postgres\)/,
      );
      nothingWritten();
    });

    it('a missing key', async () => {
      const result = await init(
        await write('c.json', JSON.stringify({ ...embedded, processing: { path: 'db/p' } })),
      );
      expect(result.code).to.equal(2);
      expect(result.stderr.replace(/\s*›\s*/g, ' ')).to.match(/processing\.backend: is missing/);
      nothingWritten();
    });

    it('invalid YAML', async () => {
      const result = await init(await write('c.yml', 'processing: [\n'));
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/invalid YAML at line/);
    });

    it('a missing file', async () => {
      const result = await init(path.join(dir, 'nope.json'));
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/cannot read config .*nope\.json: no such file/);
    });

    it('an unreachable CouchDB or PostgreSQL server is named with its password masked', async () => {
      const port = await freePort();
      const couch = {
        backend: 'couchdb',
        url: `http://admin:hunter2@127.0.0.1:${port}`,
        database: 'data-processing',
      };
      const result = await init(
        await write('c.json', JSON.stringify({ ...embedded, processing: couch, dataflow: couch })),
      );
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/unreachable/);
      expect(result.stderr).to.match(/admin:\*\*\*@127\.0\.0\.1/);
      expect(result.stderr + result.stdout).to.not.include('hunter2');

      const pg = { backend: 'postgres', url: `postgres://snoplus:hunter2@127.0.0.1:${port}/ratdb` };
      const second = await init(await write('d.json', JSON.stringify({ ...embedded, ratdb: pg })));
      expect(second.code).to.equal(2);
      expect(second.stderr).to.match(/snoplus:\*\*\*@127\.0\.0\.1/);
      expect(second.stderr + second.stdout).to.not.include('hunter2');
    });

    it('a saved config name works wherever CONFIG is taken', async () => {
      const env = {
        OPROC_CONFIG_DIR: path.join(dir, 'user'),
        OPROC_DATA_DIR: path.join(dir, 'data'),
        OPROC_CACHE_DIR: path.join(dir, 'cache'),
      };
      const file = await write('site.json', JSON.stringify(embedded));
      const saved = await runCli(['configs', 'add', 'demo-site', file], { env });
      expect(saved.code, saved.stderr).to.equal(0);
      const listed = await runCli(['configs'], { env });
      expect(listed.stdout).to.include(`demo-site\t${file}`);
      const result = await runCli(['init', 'demo-site'], { env });
      expect(result.code, result.stderr).to.equal(0);
      expect(existsSync(path.join(dir, 'db', 'ratdb'))).to.equal(true);
      expect((await runCli(['configs', 'remove', 'demo-site'], { env })).code).to.equal(0);
      expect((await runCli(['init', 'demo-site'], { env })).code).to.equal(2);
    });
  });
});
