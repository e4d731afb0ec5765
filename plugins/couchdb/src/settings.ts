import type { BackendContext } from 'oproc';

/** The couchdb section of CONFIG, checked. */
export interface CouchSettings {
  /** The server URL as given (may hold `user:password@`): the first of `nodes`. */
  url: URL;
  /** The nodes of one cluster, in the order tried (`urls`); just `url` for one server. */
  nodes: URL[];
  database: string;
  /** The user named in the URL, if any (decoded). */
  user?: string;
  /** The password given in the URL, if any (decoded). */
  password?: string;
}

// CouchDB's own rule for database names; pouchdb-server is laxer, so check here.
const databaseName = /^[a-z][a-z0-9_$()+/-]*$/;

function requiredString(context: BackendContext, key: string): string {
  const value = context.section[key];
  if (value === undefined || value === null || value === '')
    throw context.helpers.configError(key, 'is missing');
  if (typeof value !== 'string') throw context.helpers.configError(key, 'must be a string');
  return value;
}

function parseUrl(context: BackendContext, text: string, key = 'url'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw context.helpers.configError(key, `is not a URL: ${context.helpers.maskUrl(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw context.helpers.configError(key, `must be an http:// or https:// URL, not ${url.protocol}`);
  }
  if (url.search || url.hash) throw context.helpers.configError(key, 'must not have a query or fragment');
  return url;
}

/** `url`, or `urls` (the nodes of one cluster), never both. */
function readNodes(context: BackendContext): URL[] {
  const { url, urls } = context.section;
  if (url !== undefined && urls !== undefined)
    throw context.helpers.configError(
      'urls',
      'gives both url and urls: give one (urls for the nodes of a cluster)',
    );
  if (urls === undefined) return [parseUrl(context, requiredString(context, 'url'))];
  if (!Array.isArray(urls) || urls.length === 0)
    throw context.helpers.configError(
      'urls',
      'must be a list of node URLs, e.g. ["http://node1:5984", "http://node2:5984"]',
    );
  return urls.map((text: unknown, i) => {
    if (typeof text !== 'string' || text === '')
      throw context.helpers.configError(`urls[${i}]`, 'must be a URL string');
    return parseUrl(context, text, `urls[${i}]`);
  });
}

/**
 * Reads `url` (or `urls`), `database` and `password_env` from the section; a bad value is a config
 * error. The credentials of the first URL that names a user are used on every node.
 */
export function readSettings(context: BackendContext): CouchSettings {
  const nodes = readNodes(context);
  const url = nodes.find((node) => node.username) ?? nodes[0]!;
  const database = requiredString(context, 'database');
  if (!databaseName.test(database)) {
    throw context.helpers.configError(
      'database',
      `"${database}" is not a valid CouchDB database name (lower-case letters, digits and _$()+-/, starting with a letter)`,
    );
  }
  const passwordEnv = context.section.password_env;
  if (passwordEnv !== undefined && (typeof passwordEnv !== 'string' || passwordEnv === '')) {
    throw context.helpers.configError('password_env', 'must be the name of an environment variable');
  }
  return {
    url: nodes[0]!,
    nodes,
    database,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

/** The URL without credentials and without a trailing slash, for requests. */
export function plainUrl(url: URL): string {
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
