import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import { openPgliteRatdb } from '../../plugins/pglite/src/pglite-ratdb.js';
import { openPostgresRatdb } from '../../plugins/postgres/src/postgres-ratdb.js';
import type { Ratdb } from '../../src/backends/types.js';
import { runCli, oneLine, type CliResult } from '../support/cli.js';
import { backendContext, tempDir } from '../support/context.js';
import { createDatabase, createRole, freePort } from '../support/postgres-server.js';
import { postgresServer } from '../support/servers.js';

/** Runs the built CLI with no terminal, as scripts do; stderr as one line. */
async function oproc(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const result = await runCli(args, { env: { OPROC_RATDB_PASSWORD: undefined, ...env } });
  return { ...result, stderr: oneLine(result.stderr) };
}

/** RAT's own style: comments, unquoted keys, trailing commas, several tables one after another. */
const runTables = `// RUN tables: the run type word of each run
{
  type: "RUN",
  version: 1,
  index: "",
  run_range: [300000, 300000],
  pass: 0,
  timestamp: "2026-11-20T02:00:00Z",
  runtype: 4, // Physics
  comment: "Physics",
}

/* run 300001: TELLIE (ExternalSource + TELLIE) */
{
  type: "RUN",
  version: 1,
  run_range: [300001, 300001],
  timestamp: "2026-11-20T03:00:00Z",
  runtype: 2064,
  comment: "a } and a // inside a string",
}
`;

const daqTables = `// the default table covers run 0 only, as RAT writes it
{ type: "DAQ_RUN_LEVEL", version: 1, index: "", run_range: [0, 0], pass: 0, timestamp: "", trigger_enable: 0, }
{ type: "DAQ_RUN_LEVEL", version: 1, index: "", run_range: [300000, 300001], pass: 0,
  trigger_enable: 35651584, nhit100_lo_threshold: 21, }
`;

const dqxxTables = `{
  type: 'PMT_DQXX',
  version: 1,
  index: 'cr0',
  run_range: [300000, 300000],
  pass: 1,
  cratestatus_n100: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,],
  dqcr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0],
}
`;

interface Site {
  /** A config file naming a fresh, empty RATDB of the backend. */
  config: string;
  dir: string;
  /** Opens the RATDB as oproc would, for checking what a command did (the command must have ended). */
  open(): Promise<Ratdb>;
}

interface Backend {
  name: string;
  ratdbSection(dir: string): Promise<Record<string, unknown>>;
  open(section: Record<string, unknown>, dir: string): Promise<Ratdb>;
}

const backends: Backend[] = [
  {
    name: 'pglite (embedded)',
    ratdbSection: async () => ({ backend: 'pglite', path: 'ratdb' }),
    open: (section, dir) => openPgliteRatdb(backendContext('ratdb', section, { baseDir: dir })),
  },
  {
    name: 'postgres (PostgreSQL server)',
    ratdbSection: async () => ({ backend: 'postgres', url: await createDatabase(await postgresServer()) }),
    open: (section) => openPostgresRatdb(backendContext('ratdb', section)),
  },
];

async function writeConfig(dir: string, ratdb: Record<string, unknown>): Promise<string> {
  const config = path.join(dir, 'site.json');
  const unused = { backend: 'pouchdb', path: 'processing' };
  await writeFile(config, JSON.stringify({ processing: unused, dataflow: unused, ratdb }, null, 2));
  return config;
}

async function withRatdb<T>(site: Site, work: (ratdb: Ratdb) => Promise<T>): Promise<T> {
  const ratdb = await site.open();
  try {
    return await work(ratdb);
  } finally {
    await ratdb.close();
  }
}

for (const backend of backends) {
  describe(`oproc ratdb — ${backend.name}`, function () {
    this.timeout(120_000);
    let temp: { dir: string; remove(): Promise<void> };
    let site: Site;

    beforeEach(async function () {
      temp = await tempDir('oproc-ratdb-cli-');
      const section = await backend.ratdbSection(temp.dir);
      const dir = temp.dir;
      site = { config: await writeConfig(dir, section), dir, open: () => backend.open(section, dir) };
    });

    afterEach(async function () {
      await temp.remove();
    });

    async function ratdbFile(name: string, text: string): Promise<string> {
      const file = path.join(temp.dir, name);
      await writeFile(file, text);
      return file;
    }

    it('loads RAT tables from several files and says how many came from which', async function () {
      const files = [
        await ratdbFile('run.ratdb', runTables),
        await ratdbFile('daq_run_level.ratdb', daqTables),
        await ratdbFile('pmt_dqxx.ratdb', dqxxTables),
      ];
      const result = await oproc(['ratdb', 'load', site.config, ...files]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(
        /loaded 5 tables into RATDB .* from run\.ratdb \(2\), daq_run_level\.ratdb \(2\), pmt_dqxx\.ratdb \(1\)/,
      );

      await withRatdb(site, async (ratdb) => {
        expect(await ratdb.runTypes([300000, 300001, 300002])).to.deep.equal(
          new Map([
            [300000, 4],
            [300001, 2064],
          ]),
        );
        const present = await ratdb.tablesPresent(
          [0, 300000, 300001],
          [{ type: 'DAQ_RUN_LEVEL' }, { type: 'PMT_DQXX', index: 'cr0' }],
        );
        expect(present).to.deep.equal(
          new Map([
            [0, new Set(['DAQ_RUN_LEVEL'])],
            [300000, new Set(['DAQ_RUN_LEVEL', 'PMT_DQXX[cr0]'])],
            [300001, new Set(['DAQ_RUN_LEVEL'])],
          ]),
        );
      });
    });

    it('--json returns the loaded count per file', async function () {
      const file = await ratdbFile('run.ratdb', runTables);
      const result = await oproc(['ratdb', 'load', site.config, file, '--json']);
      expect(result.code, result.stderr).to.equal(0);
      const parsed = JSON.parse(result.stdout) as {
        loaded: number;
        files: { file: string; tables: number }[];
      };
      expect(parsed.loaded).to.equal(2);
      expect(parsed.files).to.deep.equal([{ file, tables: 2 }]);
    });

    it('a malformed file names its line and column, exits 2 and loads nothing', async function () {
      const good = await ratdbFile('good.ratdb', runTables);
      const unterminated = await ratdbFile(
        'unterminated.ratdb',
        '{\n  type: "RUN", version: 1, run_range: [1, 1],\n  comment: "no end,\n  runtype: 4,\n}\n',
      );
      const noRange = await ratdbFile(
        'no-range.ratdb',
        '// missing run_range\n{ type: "DAQ_RUN_LEVEL", version: 1 }\n',
      );
      const junk = await ratdbFile('junk.ratdb', `${dqxxTables}junk\n`);
      const syntax = await ratdbFile('syntax.ratdb', '{ type: "RUN", version: 1,\n  run_range: [1 1] }\n');

      const result = await oproc(['ratdb', 'load', site.config, good, unterminated, noRange, junk, syntax]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(`${unterminated}:3:12: string is not closed`);
      expect(result.stderr).to.include(`${noRange}:2:1: DAQ_RUN_LEVEL table has no "run_range"`);
      expect(result.stderr).to.include(`${junk}:10:1: unexpected "junk"`);
      expect(result.stderr).to.include(`${syntax}:2:17: invalid character '1'`);
      expect(result.stderr).to.include('nothing was loaded');

      await withRatdb(site, async (ratdb) => {
        await ratdb.create();
        expect((await ratdb.runTypes([300000, 300001])).size).to.equal(0);
        const present = await ratdb.tablesPresent([300000], [{ type: 'PMT_DQXX' }]);
        expect(present.get(300000)?.size).to.equal(0);
      });
    });

    it('a table with a wrong field is named by the line and column of that field', async function () {
      const file = await ratdbFile(
        'bad.ratdb',
        `${runTables}\n{ type: "RUN",\n  version: 1,\n  run_range: [9, 3],\n}\n`,
      );
      const result = await oproc(['ratdb', 'load', site.config, file]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(`${file}:25:3: RUN table: "run_range" must be [begin, end]`);
    });

    it('tag creates and moves a tag, tags lists it, and reads as of it see the state then', async function () {
      const file = await ratdbFile('run.ratdb', runTables);
      expect((await oproc(['ratdb', 'load', site.config, file])).code).to.equal(0);

      const first = await oproc([
        'ratdb',
        'tag',
        site.config,
        'water-physics-v2',
        '--at',
        '2026-11-20T02:30:00Z',
      ]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.include('tag water-physics-v2 set at 2026-11-20T02:30:00.000Z');
      const moved = await oproc([
        'ratdb',
        'tag',
        site.config,
        'water-physics-v2',
        '--at',
        '2026-11-20T03:30:00Z',
      ]);
      expect(moved.stdout).to.include('moved from 2026-11-20T02:30:00.000Z to 2026-11-20T03:30:00.000Z');
      expect((await oproc(['ratdb', 'tag', site.config, 'fullscint-antinu-v3'])).code).to.equal(0);

      const tags = await oproc(['ratdb', 'tags', site.config, '--json']);
      expect(tags.code, tags.stderr).to.equal(0);
      const listed = (JSON.parse(tags.stdout) as { tags: { name: string; timestamp: string }[] }).tags;
      expect(listed.map((t) => t.name)).to.deep.equal(['water-physics-v2', 'fullscint-antinu-v3']);
      expect(listed[0]!.timestamp).to.equal('2026-11-20T03:30:00.000Z');
      const plain = await oproc(['ratdb', 'tags', site.config]);
      expect(plain.stdout).to.match(/^water-physics-v2\s+2026-11-20T03:30:00\.000Z$/m);

      await withRatdb(site, async (ratdb) => {
        const early = await ratdb.tag('water-physics-v2');
        await ratdb.setTag({ name: 'early', timestamp: new Date('2026-11-20T02:30:00Z') });
        expect([...(await ratdb.runTypes([300000, 300001], early!.timestamp)).keys()]).to.deep.equal([
          300000, 300001,
        ]);
        expect([
          ...(await ratdb.runTypes([300000, 300001], (await ratdb.tag('early'))!.timestamp)).keys(),
        ]).to.deep.equal([300000]);
      });
    });

    it('a bad tag name or --at time is refused with exit 2 before anything is written', async function () {
      // The RATDB exists (tags, a read, creates no embedded database), and holds no tag.
      await (await site.open()).close();
      const badName = await oproc(['ratdb', 'tag', site.config, 'water physics']);
      expect(badName.code).to.equal(2);
      expect(badName.stderr).to.include('tag name "water physics" is not valid');
      const badTime = await oproc(['ratdb', 'tag', site.config, 'water-physics-v2', '--at', 'yesterday']);
      expect(badTime.code).to.equal(2);
      expect(badTime.stderr).to.include('--at "yesterday" is not an ISO time');
      const tags = await oproc(['ratdb', 'tags', site.config, '--json']);
      expect((JSON.parse(tags.stdout) as { tags: unknown[] }).tags).to.deep.equal([]);
    });
  });
}

describe('oproc ratdb — postgres credentials', function () {
  this.timeout(120_000);
  let temp: { dir: string; remove(): Promise<void> };

  beforeEach(async function () {
    temp = await tempDir('oproc-ratdb-cli-');
  });

  afterEach(async function () {
    await temp.remove();
  });

  it('an unreachable server exits 2 naming the masked URL, never the password', async function () {
    const url = `postgres://u:secret@127.0.0.1:${await freePort()}/x`;
    const config = await writeConfig(temp.dir, { backend: 'postgres', url });
    const result = await oproc(['ratdb', 'tags', config]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include(url.replace(':secret@', ':***@'));
    expect(result.stdout + result.stderr).not.to.include('secret');
  });

  it('a role that needs a password takes it from OPROC_RATDB_PASSWORD, and without it says to set it', async function () {
    const server = await postgresServer();
    const user = `loader_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(4).toString('hex')}`;
    await createRole(server, user, password);
    const url = (await createDatabase(server, undefined, { owner: user })).replace(
      '://postgres@',
      `://${user}@`,
    );
    const config = await writeConfig(temp.dir, { backend: 'postgres', url });
    const file = path.join(temp.dir, 'run.ratdb');
    await writeFile(file, runTables);

    const without = await oproc(['ratdb', 'load', config, file]);
    expect(without.code).to.equal(2);
    expect(without.stderr).to.include(`needs a password for user "${user}" and there is no terminal`);
    expect(without.stderr).to.include('OPROC_RATDB_PASSWORD');

    const withPassword = await oproc(['ratdb', 'load', config, file], { OPROC_RATDB_PASSWORD: password });
    expect(withPassword.code, withPassword.stderr).to.equal(0);
    expect(withPassword.stdout).to.include('loaded 2 tables');
    expect(withPassword.stdout + withPassword.stderr).not.to.include(password);
  });
});
