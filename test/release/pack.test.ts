import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

import { expect } from 'chai';

import { tempDir } from '../support/context.js';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
/** semver, as npm itself compares engine ranges. */
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
};

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  bin?: Record<string, string>;
  files?: string[];
  scripts?: Record<string, string>;
  repository?: { url?: string; directory?: string };
  publishConfig?: { access?: string };
  dependencies?: Record<string, string>;
  engines?: { node?: string };
  overrides?: Record<string, string>;
}

interface LockEntry {
  version?: string;
  link?: boolean;
  dev?: boolean;
  resolved?: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
}

const folders = [
  '.',
  'packages/couch-common',
  'plugins/couchdb',
  'plugins/pouchdb',
  'plugins/postgres',
  'plugins/pglite',
];

async function manifest(folder: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(root, folder, 'package.json'), 'utf8')) as Manifest;
}

/**
 * What `npm publish --workspaces --include-workspace-root` would put in each tarball. Scripts are
 * skipped (prepack would rebuild everything): the test suite builds first.
 */
async function packLists(): Promise<Map<string, string[]>> {
  const { stdout } = await run(
    'npm',
    ['pack', '--dry-run', '--json', '--workspaces', '--include-workspace-root', '--ignore-scripts'],
    { cwd: root, maxBuffer: 16 * 1024 * 1024 },
  );
  const packs = JSON.parse(stdout) as { name: string; files: { path: string }[] }[];
  return new Map(packs.map((p) => [p.name, p.files.map((f) => f.path).sort()]));
}

describe('the published packages (npm pack --dry-run, package.json)', function () {
  this.timeout(120_000);
  let lists: Map<string, string[]>;
  let manifests: Manifest[];

  before(async () => {
    if (!existsSync(path.join(root, 'oclif.manifest.json')))
      throw new Error('the CLI is not built: run npm run build first');
    lists = await packLists();
    manifests = await Promise.all(folders.map(manifest));
  });

  it('every package is packed, none is private, all at one version', () => {
    expect([...lists.keys()]).to.have.members(manifests.map((m) => m.name));
    expect(manifests.filter((m) => m.private !== undefined).map((m) => m.name)).to.deep.equal([]);
    expect(new Set(manifests.map((m) => m.version)).size).to.equal(1);
  });

  it('each tarball holds its LICENSE and built code, and no source map, build cache, test or source', () => {
    for (const [name, files] of lists) {
      expect(files, name).to.include.members(['LICENSE', 'package.json']);
      expect(
        files.filter((f) => f.startsWith('dist/') && f.endsWith('.js')),
        name,
      ).to.not.have.length(0);
      const unwanted = files.filter(
        (f) =>
          f.endsWith('.map') ||
          f.includes('tsbuildinfo') ||
          /^(src|test|bench|scripts|examples)\//.test(f) ||
          f === 'bin/dev.js' ||
          /\.test\.[jt]s$/.test(f),
      );
      expect(unwanted, name).to.deep.equal([]);
    }
  });

  it("oproc's tarball holds both bins, the oclif manifest, the status page and the demo's data", () => {
    expect(lists.get('oproc')).to.include.members([
      'bin/run.js',
      'bin/offline_processing.js',
      'oclif.manifest.json',
      'web/page.html',
      'dist/commands/demo.js',
      'demo/site.json',
      'demo/processing_information.example.json',
      'demo/data/dataflow.json',
      'demo/data/ratdb/run.ratdb',
    ]);
  });

  it('bins are written without ./ and exist; scoped packages publish as public; each has repository and prepack', () => {
    const cli = manifests[0]!;
    expect(cli.bin).to.deep.equal({ oproc: 'bin/run.js', offline_processing: 'bin/offline_processing.js' });
    for (const file of Object.values(cli.bin!))
      expect(existsSync(path.join(root, file)), file).to.equal(true);
    expect(cli.files).to.include('npm-shrinkwrap.json');
    // The override reaches users whether or not their registry marks the shrinkwrap for npm.
    expect(cli.dependencies?.['light-my-request']).to.equal(cli.overrides?.['light-my-request']);
    for (const m of manifests) {
      expect(m.license, m.name).to.equal('MIT');
      expect(m.repository?.url, m.name).to.be.a('string');
      expect(m.scripts?.prepack, m.name).to.be.a('string');
      if (m.name.startsWith('@')) expect(m.publishConfig?.access, m.name).to.equal('public');
      for (const [dep, range] of Object.entries(m.dependencies ?? {}))
        if (dep.startsWith('@oproc/')) expect(range, `${m.name} -> ${dep}`).to.equal(m.version);
    }
  });

  describe('npm-shrinkwrap.json, made from package-lock.json as prepack makes it', () => {
    let packages: Record<string, LockEntry>;
    let dir: Awaited<ReturnType<typeof tempDir>>;

    before(async () => {
      dir = await tempDir('oproc-shrinkwrap-');
      const out = path.join(dir.dir, 'npm-shrinkwrap.json');
      await run(process.execPath, [path.join(root, 'scripts', 'shrinkwrap.js'), out]);
      packages = (JSON.parse(await readFile(out, 'utf8')) as { packages: Record<string, LockEntry> })
        .packages;
    });
    after(() => dir?.remove());

    it('has no workspace link and no dev dependency; the @oproc packages come from the registry at this version', () => {
      const entries = Object.entries(packages);
      expect(entries.filter(([, e]) => e.link || e.dev).map(([k]) => k)).to.deep.equal([]);
      expect(
        entries.filter(([k]) => k !== '' && !k.startsWith('node_modules/')).map(([k]) => k),
      ).to.deep.equal([]);
      const version = manifests[0]!.version;
      for (const name of [
        'couch-common',
        'plugin-couchdb',
        'plugin-pouchdb',
        'plugin-postgres',
        'plugin-pglite',
      ])
        expect(packages[`node_modules/@oproc/${name}`]?.version, name).to.equal(version);
      expect(packages['node_modules/@oproc/plugin-couchdb']?.dependencies).to.include({
        '@oproc/couch-common': version,
      });
    });

    it("pins what the lock file pins, the root's override included (light-my-request 6.6, no cookie 2)", async () => {
      const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, LockEntry>;
      };
      for (const [key, entry] of Object.entries(packages)) {
        if (key === '' || key.startsWith('node_modules/@oproc/')) continue;
        expect(entry.version, key).to.equal(lock.packages[key]?.version);
      }
      const lightMyRequest = Object.entries(packages).filter(([k]) => k.endsWith('/light-my-request'));
      expect(lightMyRequest.map(([, e]) => e.version)).to.deep.equal(['6.6.0']);
      const cookies = Object.entries(packages).filter(([k]) => k.endsWith('node_modules/cookie'));
      expect(cookies.map(([, e]) => e.version).filter((v) => v!.startsWith('2.'))).to.deep.equal([]);
    });

    it('no package users get declares an engine that excludes Node 20.19', () => {
      const excluding = Object.entries(packages)
        .filter(([k, e]) => k !== '' && e.engines?.node && !semver.satisfies('20.19.0', e.engines.node))
        .map(([k, e]) => `${k}@${e.version}: node ${e.engines!.node}`);
      expect(excluding).to.deep.equal([]);
    });
  });
});
