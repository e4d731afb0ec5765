import path from 'node:path';

import type { Config } from '@oclif/core';

import { passwordSource } from '../config/credentials.js';
import {
  configError,
  describeSection,
  type DatabaseRole,
  type DatabaseSection,
  type OprocConfig,
} from '../config/load.js';
import { OprocError, usageError } from '../errors.js';
import { lockDirectory } from '../util/dir-lock.js';
import { maskUrl, redact } from '../util/mask.js';
import { isTransient, withRetry } from '../util/retry.js';
import { sqlRatdb } from './sql-ratdb.js';
import type {
  BackendContext,
  BackendContribution,
  BackendHelpers,
  DocumentStore,
  DocumentStoreFactory,
  Ratdb,
  RatdbFactory,
} from './types.js';

declare module '@oclif/core' {
  interface Hooks {
    'oproc:backends': { options: Record<string, never>; return: BackendContribution };
  }
}

interface Registered<F> {
  factory: F;
  plugin: string;
}

/** The backends the installed plugins provide, by name. */
export class BackendRegistry {
  readonly documentStores = new Map<string, Registered<DocumentStoreFactory>>();
  readonly ratdbs = new Map<string, Registered<RatdbFactory>>();

  /** Collects every plugin's `oproc:backends` contribution. Two plugins giving one name is an error. */
  static async fromOclif(config: Config): Promise<BackendRegistry> {
    const registry = new BackendRegistry();
    const { successes, failures } = await config.runHook('oproc:backends', {});
    for (const failure of failures) {
      throw new OprocError(`backend plugin ${failure.plugin.name} failed to load: ${failure.error.message}`);
    }
    for (const { plugin, result } of successes) registry.add(plugin.name, result);
    return registry;
  }

  add(plugin: string, contribution: BackendContribution | undefined): void {
    for (const [name, factory] of Object.entries(contribution?.documentStores ?? {})) {
      addOnce(this.documentStores, name, { factory, plugin }, 'document-store');
    }
    for (const [name, factory] of Object.entries(contribution?.ratdbs ?? {})) {
      addOnce(this.ratdbs, name, { factory, plugin }, 'RATDB');
    }
  }
}

function addOnce<F>(map: Map<string, Registered<F>>, name: string, entry: Registered<F>, kind: string): void {
  const existing = map.get(name);
  if (existing && existing.plugin !== entry.plugin) {
    throw new OprocError(
      `${kind} backend "${name}" is defined by two plugins: ${existing.plugin} and ${entry.plugin}`,
    );
  }
  map.set(name, entry);
}

export const backendHelpers: Omit<BackendHelpers, 'configError' | 'missingDatabase'> = {
  sqlRatdb,
  maskUrl,
  retry: (what, work) => withRetry(what, work),
  lockDirectory,
  // Off stdout, so a `--json` result stays the only thing there.
  notice: (message) => void process.stderr.write(`${message}\n`),
  warn: (message) => process.stderr.write(`Warning: ${redact(message)}\n`),
};

/**
 * An embedded database a read was pointed at is not there (a mistyped path, or `oproc init` not
 * run): said so, with both ways out. The read has created nothing.
 */
export function missingDatabaseError(file: string, role: DatabaseRole, location: string): OprocError {
  return usageError(
    `no ${role} database at ${location} (${role}.path in config ${file}); nothing was created`,
    `If the path is mistyped, correct ${role}.path in ${file}`,
    `To create the databases: oproc init ${file}`,
  );
}

function context(config: OprocConfig, role: DatabaseRole, create: boolean): BackendContext {
  const section = config[role];
  return {
    section,
    role,
    baseDir: config.baseDir,
    password: passwordSource(role, section),
    create,
    helpers: {
      ...backendHelpers,
      configError: (key, problem) => configError(config.file, `${role}.${key}`, problem),
      missingDatabase: (location) => missingDatabaseError(config.file, role, location),
    },
  };
}

function pick<F>(map: Map<string, Registered<F>>, config: OprocConfig, role: DatabaseRole, kind: string): F {
  const name = config[role].backend;
  const entry = map.get(name);
  if (!entry) {
    const installed = [...map.keys()].sort().join(', ') || 'none';
    throw configError(
      config.file,
      `${role}.backend`,
      `unknown ${kind} backend "${name}" (installed: ${installed})`,
    );
  }
  return entry.factory;
}

/** The same database named twice (dataflow and processing often are) is opened once. */
function identity(section: DatabaseSection, baseDir: string): string {
  if (section.url) return `${section.backend} ${section.url} ${section.database ?? ''}`;
  if (section.urls) return `${section.backend} ${section.urls.join(' ')} ${section.database ?? ''}`;
  return `${section.backend} ${section.path ? path.resolve(baseDir, section.path) : ''}`;
}

/** Opening failed: a clear message naming the database, never a password. */
function openError(role: DatabaseRole, section: DatabaseSection, error: unknown): OprocError {
  if (error instanceof OprocError) return error;
  const reason = redact(error instanceof Error ? error.message : String(error));
  // A backend that already names its server says it better than the core can: keep its words.
  const named = [section.url, ...(section.urls ?? [])].filter((u): u is string => u !== undefined);
  if (named.some((url) => reason.includes(maskUrl(url).replace(/\/$/, '')))) {
    return usageError(`the ${role} database: ${reason}`);
  }
  const unreachable = isTransient(error) ? 'is unreachable' : 'could not be opened';
  return usageError(`the ${role} database ${describeSection(section)} ${unreachable}: ${reason}`);
}

export interface Databases {
  processing: DocumentStore;
  dataflow: DocumentStore;
  ratdb: Ratdb;
  close(): Promise<void>;
}

export type DatabaseSelection = Partial<Record<DatabaseRole, boolean>>;

export interface OpenOptions {
  /** False for commands that only read: a database that is not there is an error, never created. Default true. */
  create?: boolean;
}

/**
 * Opens the databases a command needs. Backends are checked before any is opened, so an unknown
 * backend name costs nothing; an unreachable server is reported with its masked address.
 */
export async function openDatabases(
  registry: BackendRegistry,
  config: OprocConfig,
  want: DatabaseSelection = { processing: true, dataflow: true, ratdb: true },
  { create = true }: OpenOptions = {},
): Promise<Databases> {
  const storeRoles = (['processing', 'dataflow'] as const).filter((role) => want[role]);
  const storeFactories = storeRoles.map((role) =>
    pick(registry.documentStores, config, role, 'document-store'),
  );
  const ratdbFactory = want.ratdb ? pick(registry.ratdbs, config, 'ratdb', 'RATDB') : undefined;

  const opened: { close(): Promise<void> }[] = [];
  const byIdentity = new Map<string, DocumentStore>();
  const result: Partial<Record<DatabaseRole, unknown>> = {};
  const closeAll = async () => {
    await Promise.allSettled(opened.map((db) => db.close()));
  };
  try {
    for (const [i, role] of storeRoles.entries()) {
      const key = identity(config[role], config.baseDir);
      let store = byIdentity.get(key);
      if (!store) {
        store = await storeFactories[i]!(context(config, role, create)).catch((error: unknown) => {
          throw openError(role, config[role], error);
        });
        opened.push(store);
        byIdentity.set(key, store);
      }
      result[role] = store;
    }
    if (ratdbFactory) {
      const ratdb = await ratdbFactory(context(config, 'ratdb', create)).catch((error: unknown) => {
        throw openError('ratdb', config.ratdb, error);
      });
      opened.push(ratdb);
      result.ratdb = ratdb;
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  const unavailable = (role: DatabaseRole) =>
    new Proxy({} as never, {
      get: () => {
        throw new Error(`internal: the ${role} database was not opened for this command`);
      },
    });
  return {
    processing: (result.processing as DocumentStore) ?? unavailable('processing'),
    dataflow: (result.dataflow as DocumentStore) ?? unavailable('dataflow'),
    ratdb: (result.ratdb as Ratdb) ?? unavailable('ratdb'),
    close: closeAll,
  };
}
