#!/usr/bin/env node
/**
 * Writes npm-shrinkwrap.json for the published `oproc` package from package-lock.json (run by
 * `prepack`, removed by `postpack`), so `npm install -g oproc` gets the tree the repository's lock
 * file pins, overrides included: npm ignores a dependency's package-lock.json and its `overrides`,
 * but follows a published npm-shrinkwrap.json where the registry marks the version as having one
 * (`_hasShrinkwrap`; Verdaccio 6.8 does not): the override that matters is also a direct dependency.
 *
 * The lock file is the workspace's: its workspace packages are `link` entries to folders
 * (`plugins/couchdb`). In the shrinkwrap they become plain registry dependencies at the version
 * published with this one, their nested dependencies move under them, and only what a
 * production install of the root reaches is kept (no dev dependency).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');

/** Fields of a lock entry that a registry dependency keeps. */
const kept = [
  'version',
  'resolved',
  'integrity',
  'license',
  'dependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bin',
  'engines',
  'os',
  'cpu',
  'hasInstallScript',
  'deprecated',
  'funding',
];

function pick(entry) {
  return Object.fromEntries(kept.filter((key) => entry[key] !== undefined).map((key) => [key, entry[key]]));
}

/** The lock's packages with each workspace link replaced by the workspace package, as from a registry. */
function withoutLinks(packages) {
  const links = Object.entries(packages).filter(([, entry]) => entry.link);
  const targets = new Map(links.map(([at, entry]) => [entry.resolved, at]));
  const result = {};
  for (const [key, entry] of Object.entries(packages)) {
    if (entry.link) continue;
    if (targets.has(key)) {
      result[targets.get(key)] = pick(entry);
      continue;
    }
    const target = [...targets.keys()].find((t) => key.startsWith(`${t}/node_modules/`));
    if (target) result[targets.get(target) + key.slice(target.length)] = entry;
    else if (key === '' || key.includes('node_modules/')) result[key] = entry;
    // Anything else is a workspace folder no link points at: not part of what users install.
  }
  return result;
}

/** Where Node finds `name` from the package at `from`, among the lock's keys. */
function resolve(packages, from, name) {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at === -1 ? '' : dir.slice(0, at);
  }
}

function edges(entry) {
  const optionalPeers = entry.peerDependenciesMeta ?? {};
  return [
    ...Object.keys(entry.dependencies ?? {}).map((name) => ({ name, optional: false })),
    ...Object.keys(entry.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ...Object.keys(entry.peerDependencies ?? {}).map((name) => ({
      name,
      optional: Boolean(optionalPeers[name]?.optional),
    })),
  ];
}

/** The lock keys a production install of the root reaches; with `requiredOnly`, through required edges only. */
function reached(packages, rootEntry, requiredOnly) {
  const seen = new Set();
  const queue = [['', rootEntry]];
  while (queue.length > 0) {
    const [at, entry] = queue.shift();
    for (const edge of edges(entry)) {
      if (requiredOnly && edge.optional) continue;
      const key = resolve(packages, at, edge.name);
      if (!key) {
        if (edge.optional) continue;
        throw new Error(`${at || 'oproc'} needs ${edge.name}, which package-lock.json does not have`);
      }
      if (seen.has(key)) continue;
      seen.add(key);
      queue.push([key, packages[key]]);
    }
  }
  return seen;
}

/** The shrinkwrap for the published root package, from its package.json and the workspace's lock. */
export function shrinkwrap(manifest, lock) {
  if (lock.packages?.['']?.version !== manifest.version) {
    throw new Error(
      `package-lock.json is for version ${lock.packages?.['']?.version}, package.json says ${manifest.version}: run npm install`,
    );
  }
  const packages = withoutLinks(lock.packages);
  const rootEntry = {
    name: manifest.name,
    version: manifest.version,
    license: manifest.license,
    dependencies: manifest.dependencies,
    bin: manifest.bin,
    engines: manifest.engines,
  };
  const all = reached(packages, rootEntry, false);
  const required = reached(packages, rootEntry, true);
  const out = { '': rootEntry };
  for (const key of [...all].sort()) {
    const entry = { ...packages[key] };
    delete entry.dev;
    delete entry.devOptional;
    delete entry.optional;
    if (!required.has(key)) entry.optional = true;
    out[key] = entry;
  }
  return {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: out,
  };
}

/** `node scripts/shrinkwrap.js [OUT]`: writes the root's npm-shrinkwrap.json, or OUT. */
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const read = (file) => JSON.parse(readFileSync(path.join(root, file), 'utf8'));
  const out = process.argv[2] ?? path.join(root, 'npm-shrinkwrap.json');
  const result = shrinkwrap(read('package.json'), read('package-lock.json'));
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`${path.basename(out)}: ${Object.keys(result.packages).length - 1} packages`);
}
