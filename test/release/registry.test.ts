/**
 * The whole release path against a real npm registry: a throwaway Verdaccio 6.8 on a loopback port
 * (with a temporary storage, proxying npm's configured registry for every other package), the
 * packages published from a clean clone, `npm install -g oproc` into an empty prefix, the demo, a
 * reprocess against the test servers, and a module plugin installed, updated and uninstalled by
 * name. Slow (minutes): run by `npm run test:release` (OPROC_RELEASE_TEST=1), skipped otherwise.
 * It clones the repository's HEAD: commit first. OPROC_VERDACCIO may name a Verdaccio bin already
 * installed; else Verdaccio 6.8.0 is installed into the test's folder from the configured registry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { SubmissionResult } from '../../src/engine/reprocess.js';
import type { ModulesResult } from '../../src/commands/modules/index.js';
import { tempDir } from '../support/context.js';
import { freePort } from '../support/ports.js';
import { physicsRuns, scenario, type Scenario } from '../support/scenario.js';

const root = path.resolve(import.meta.dirname, '../..');
const enabled = process.env.OPROC_RELEASE_TEST === '1';
const pluginName = 'oproc-plugin-example';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to its end; stdout and stderr kept, the time it took measured. */
function sh(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

function ok(ran: Ran, what: string): Ran {
  expect(ran.code, `${what}:\n${ran.stdout}\n${ran.stderr}`).to.equal(0);
  return ran;
}

async function waitForRegistry(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Verdaccio exited with ${child.exitCode}`);
    try {
      if ((await fetch(new URL('-/ping', url))).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Verdaccio did not answer at ${url} within 60 s`);
}

/** Bytes of the files under `dir` (what `du` would show, roughly). */
async function size(dir: string): Promise<number> {
  const { stat } = await import('node:fs/promises');
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

(enabled ? describe : describe.skip)(
  'release: publish to a registry, install, demo, plugins by name',
  function () {
    this.timeout(1_800_000);
    let temp: Awaited<ReturnType<typeof tempDir>>;
    let verdaccio: ChildProcess | undefined;
    let url: string;
    /** npm's environment for this registry: its own user config (the registry and a token). */
    let npmEnv: NodeJS.ProcessEnv;
    let prefix: string;
    /** The installed CLI's environment: its bins on PATH, oclif's folders and HOME in the test's folder. */
    let userEnv: NodeJS.ProcessEnv;
    const figures: Record<string, string> = {};
    let s: Scenario | undefined;

    const oproc = (args: string[], cwd = temp.dir) =>
      sh(path.join(prefix, 'bin', 'oproc'), args, { cwd, env: userEnv });

    before(async function () {
      this.timeout(600_000);
      temp = await tempDir('oproc-release-');
      const dir = (name: string) => path.join(temp.dir, name);
      await Promise.all(['storage', 'home', 'work', 'oclif'].map((name) => mkdir(dir(name))));

      let bin = process.env.OPROC_VERDACCIO;
      if (!bin) {
        ok(
          await sh(
            'npm',
            ['install', '--no-audit', '--no-fund', '--prefix', dir('verdaccio'), 'verdaccio@6.8.0'],
            {
              cwd: temp.dir,
            },
          ),
          'installing Verdaccio 6.8.0',
        );
        bin = path.join(dir('verdaccio'), 'node_modules', 'verdaccio', 'bin', 'verdaccio');
      }
      const upstream = (await sh('npm', ['config', 'get', 'registry'], { cwd: temp.dir })).stdout.trim();
      const port = await freePort();
      url = `http://127.0.0.1:${port}/`;
      const local = { access: '$all', publish: '$authenticated', unpublish: '$authenticated' };
      const config = [
        `storage: ${JSON.stringify(dir('storage'))}`,
        `auth: { htpasswd: { file: ${JSON.stringify(dir('htpasswd'))}, max_users: 10 } }`,
        `uplinks: { npmjs: { url: ${JSON.stringify(upstream)}, timeout: 60s } }`,
        'packages:',
        // oproc's own packages never come from upstream: only what this test publishes.
        ...['@oproc/*', 'oproc', pluginName].map((p) => `  '${p}': ${JSON.stringify(local)}`),
        `  '**': { access: $all, publish: $authenticated, proxy: npmjs }`,
        `listen: 127.0.0.1:${port}`,
        'log: { type: stdout, format: pretty, level: warn }',
      ].join('\n');
      await writeFile(dir('config.yaml'), config + '\n');
      verdaccio = spawn(process.execPath, [bin, '--config', dir('config.yaml')], {
        cwd: temp.dir,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitForRegistry(url, verdaccio);

      const user = await fetch(new URL('-/user/org.couchdb.user:release', url), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'release', password: 'release-test' }),
      });
      const { token } = (await user.json()) as { token: string };
      await writeFile(dir('npmrc'), `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
      npmEnv = { npm_config_userconfig: dir('npmrc'), npm_config_registry: url };
      prefix = dir('prefix');
      userEnv = {
        ...npmEnv,
        HOME: dir('home'),
        PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`,
        OPROC_DATA_DIR: path.join(dir('oclif'), 'data'),
        OPROC_CONFIG_DIR: path.join(dir('oclif'), 'config'),
        OPROC_CACHE_DIR: path.join(dir('oclif'), 'cache'),
      };
    });

    after(async function () {
      this.timeout(60_000);
      if (verdaccio?.pid !== undefined && verdaccio.exitCode === null) {
        const exited = new Promise((r) => verdaccio!.once('exit', r));
        process.kill(verdaccio.pid, 'SIGTERM');
        await exited;
      }
      await s?.cleanup();
      if (Object.keys(figures).length > 0)
        console.log(
          `      figures: ${Object.entries(figures)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
      await temp?.remove();
    });

    it('npm publish --workspaces --include-workspace-root from a clean clone after npm ci', async () => {
      const clone = path.join(temp.dir, 'clone');
      ok(await sh('git', ['clone', '--quiet', root, clone], { cwd: temp.dir }), 'git clone');
      figures['npm ci'] =
        `${ok(await sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone }), 'npm ci').seconds} s`;
      const publish = ok(
        await sh('npm', ['publish', '--workspaces', '--include-workspace-root'], { cwd: clone, env: npmEnv }),
        'npm publish',
      );
      figures.publish = `${publish.seconds} s`;
      const published = publish.stdout.match(/^\+ \S+$/gm) ?? [];
      expect(published.sort()).to.deep.equal(
        [
          '+ oproc@0.2.0',
          '+ @oproc/couch-common@0.2.0',
          '+ @oproc/plugin-couchdb@0.2.0',
          '+ @oproc/plugin-pouchdb@0.2.0',
          '+ @oproc/plugin-postgres@0.2.0',
          '+ @oproc/plugin-pglite@0.2.0',
        ].sort(),
      );
      expect(publish.stderr).to.not.match(/invalid and removed|EPRIVATE/);
      // The clone is left as it was: the shrinkwrap made for the pack is gone again.
      expect(await readdir(clone)).to.not.include('npm-shrinkwrap.json');
    });

    it('npm install -g oproc into an empty prefix: oproc --version, and the tree the lock file pins', async () => {
      const install = ok(
        await sh('npm', ['install', '-g', '--no-audit', '--no-fund', '--prefix', prefix, 'oproc'], {
          cwd: temp.dir,
          env: npmEnv,
        }),
        'npm install -g oproc',
      );
      figures.install = `${install.seconds} s`;
      expect(install.stderr).to.not.match(/EBADENGINE/);
      const installed = path.join(prefix, 'lib', 'node_modules', 'oproc');
      figures.size = `${((await size(installed)) / 1e6).toFixed(0)} MB`;
      const version = ok(await oproc(['--version']), 'oproc --version');
      expect(version.stdout).to.match(/^oproc\/0\.2\.0 /);
      const legacy = await sh(path.join(prefix, 'bin', 'offline_processing'), ['--help'], {
        cwd: temp.dir,
        env: userEnv,
      });
      expect(legacy.code, legacy.stderr).to.equal(0);
      // The root's override, as a direct dependency: light-my-request 6.6, whose cookie is 1.x.
      const lightMyRequest = JSON.parse(
        await readFile(path.join(installed, 'node_modules', 'light-my-request', 'package.json'), 'utf8'),
      ) as { version: string };
      expect(lightMyRequest.version).to.equal('6.6.0');
      const cookies = (await readdir(installed, { recursive: true })).filter((f) =>
        f.endsWith(`node_modules${path.sep}cookie${path.sep}package.json`),
      );
      for (const file of cookies) {
        const { version: v } = JSON.parse(await readFile(path.join(installed, file), 'utf8')) as {
          version: string;
        };
        expect(v, file).to.not.match(/^2\./);
      }
    });

    it('oproc demo runs in an empty folder, printing commands as typed with the installed oproc', async () => {
      const work = path.join(temp.dir, 'work');
      const demo = ok(await oproc(['demo'], work), 'oproc demo');
      figures.demo = `${demo.seconds} s`;
      expect(demo.stdout).to.include('$ oproc init oproc-demo/site.json');
      expect(demo.stdout).to.include('$ offline_processing oproc-demo/site.json 7.0.8 L2 -1 300002');
      expect(demo.stdout).to.include('The reprocessing steps created 12 passes');
      expect(await readdir(work)).to.deep.equal(['oproc-demo']);
      expect(await readdir(path.join(temp.dir, 'home'))).to.deep.equal([]);
    });

    it('the installed oproc reprocesses a range on the test servers (CouchDB API, PostgreSQL)', async () => {
      s = await scenario('servers');
      await s.addRuns(physicsRuns(300100, 300104, { subruns: 1 }));
      const result = ok(
        await oproc(['reprocess', 'range', s.config, s.ratv, 'L2', '300100', '300103', '--json']),
        'reprocess range',
      );
      const created = (JSON.parse(result.stdout) as SubmissionResult).created;
      expect(new Set(created.map((c) => c.run))).to.deep.equal(new Set([300100, 300101, 300102, 300103]));
      expect((await s.jobs([300100], ['Processing'])).size).to.equal(1);
    });

    it('a module plugin published to the registry: plugins install NAME, use it, update, uninstall', async () => {
      const plugin = path.join(temp.dir, 'plugin');
      await cp(path.join(root, 'examples', pluginName), plugin, { recursive: true });
      ok(await sh('npm', ['publish'], { cwd: plugin, env: npmEnv }), 'publishing the example plugin');

      const install = ok(await oproc(['plugins', 'install', pluginName]), 'oproc plugins install');
      figures['plugins install'] = `${install.seconds} s`;
      expect(ok(await oproc(['plugins']), 'oproc plugins').stdout).to.match(
        /^oproc-plugin-example 0\.1\.0$/m,
      );

      // The demo's processing information for RAT 7.0.8 with every installed module plugin.
      const demoDir = path.join(temp.dir, 'work', 'oproc-demo');
      const site = JSON.parse(await readFile(path.join(demoDir, 'site.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      delete site.module_plugins;
      const config = path.join(demoDir, 'with-plugins.json');
      await writeFile(config, JSON.stringify(site, null, 2));
      const modules = JSON.parse(
        ok(await oproc(['modules', config, '7.0.8', '--json']), 'modules').stdout,
      ) as ModulesResult;
      expect(modules.sources.AntinuFit).to.equal(pluginName);

      const manifest = JSON.parse(await readFile(path.join(plugin, 'package.json'), 'utf8')) as {
        version: string;
      };
      manifest.version = '0.1.1';
      await writeFile(path.join(plugin, 'package.json'), JSON.stringify(manifest, null, 2));
      ok(await sh('npm', ['publish'], { cwd: plugin, env: npmEnv }), 'publishing 0.1.1');
      ok(await oproc(['plugins', 'update']), 'oproc plugins update');
      expect(ok(await oproc(['plugins']), 'oproc plugins').stdout).to.match(
        /^oproc-plugin-example 0\.1\.1$/m,
      );

      ok(await oproc(['plugins', 'uninstall', pluginName]), 'oproc plugins uninstall');
      expect((await oproc(['plugins'])).stdout).to.not.include(pluginName);
      const after = JSON.parse(
        ok(await oproc(['modules', config, '7.0.8', '--json']), 'modules').stdout,
      ) as ModulesResult;
      expect(Object.keys(after.processing_modules)).to.not.include('AntinuFit');
    });
  },
);
