import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';

import { runCli } from './support/cli.js';
import { tempDir } from './support/context.js';

const root = path.resolve(import.meta.dirname, '..');

/** The README's fenced blocks of one language, each with the paragraph before it. */
async function blocks(language: string): Promise<{ before: string; body: string }[]> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const found: { before: string; body: string }[] = [];
  const fence = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  for (const match of readme.matchAll(fence)) {
    const before = readme.slice(0, match.index).trimEnd().split('\n\n').at(-1) ?? '';
    found.push({ before, body: match[1]! });
  }
  return found;
}

describe('the README says what the CLI does', function () {
  this.timeout(60_000);

  it('its YAML example of demo/site.json is demo/site.json, and loads as the same config', async () => {
    const examples = (await blocks('yaml')).filter((b) => b.before.includes('`demo/site.json`'));
    expect(examples, 'a YAML block introduced as demo/site.json').to.have.length(1);
    const site = JSON.parse(await readFile(path.join(root, 'demo', 'site.json'), 'utf8')) as unknown;
    expect(parseYaml(examples[0]!.body)).to.deep.equal(site);

    // As a user would use it: the YAML beside the JSON in a copy of demo/ names the same databases.
    const temp = await tempDir('oproc-readme-');
    try {
      const demo = path.join(temp.dir, 'demo');
      const example = path.join(demo, 'processing_information.example.json');
      await cp(path.join(root, 'demo', 'processing_information.example.json'), example);
      await cp(path.join(root, 'demo', 'site.json'), path.join(demo, 'site.json'));
      await writeFile(path.join(demo, 'site.yaml'), examples[0]!.body);
      const fromYaml = await runCli(['modules', path.join(demo, 'site.yaml'), '7.0.8', '--json']);
      const fromJson = await runCli(['modules', path.join(demo, 'site.json'), '7.0.8', '--json']);
      expect(fromYaml.code, fromYaml.stderr).to.equal(0);
      expect(fromYaml.stdout.replaceAll('site.yaml', 'site.json')).to.equal(fromJson.stdout);
    } finally {
      await temp.remove();
    }
  });

  it('run 300035, still being taken, waits: the README never calls it held', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    const lines = readme.split('\n').filter((line) => line.includes('300035'));
    expect(lines.length).to.be.greaterThan(2);
    for (const line of lines) expect(line).not.to.match(/\bheld\b/);
    const why = (await blocks('console')).find((b) =>
      b.body.startsWith('$ ./bin/run.js why demo/site.json 7.0.8 L2 300035'),
    );
    expect(why?.body.trimEnd().split('\n').at(-1)).to.equal(
      'waits: run 300035 is not complete (no later run, no run_end)',
    );
  });

  it('after a clone oproc is ./bin/run.js: no example of the clone runs a bare oproc', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    expect(readme).not.to.match(/npm run demo && oproc /);
    for (const { body } of (await blocks('console')).filter((b) => b.body.includes('demo/site.json')))
      expect(body.split('\n')[0]).to.match(/^\$ \.\/bin\/run\.js /);
  });
});
