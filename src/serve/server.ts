/**
 * `oproc serve`: a read-only web page of the processing state. Fastify serves the pages (static HTML
 * that renders the JSON endpoints), the JSON endpoints themselves (what `oproc status --json` and
 * `oproc why --json` print), a server-sent event stream fed by the change feeds, and the chart library
 * from the installed package: nothing is loaded from the internet.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

import type { DocumentStore } from '../backends/types.js';
import { fileTypes, ids, type FileType, type RunNumber } from '../engine/types.js';
import { compareVersions } from '../modules/catalog.js';
import { OprocError, usageError } from '../errors.js';
import { parseOutlist } from '../engine/outlist.js';
import { listPasses, type MissingPass, type PassRow } from '../operations/passes.js';
import { redact } from '../util/mask.js';
import type { InsightContext } from '../operations/insight.js';
import { readStatus, type StatusReport } from '../operations/status.js';
import { explainRun, type WhyReport } from '../operations/why.js';
import { ChangeCache, followChanges, Hub } from './live.js';

const webDir = fileURLToPath(new URL('../../web/', import.meta.url));
/** Chart libraries, from the installed packages' own builds. */
const vendorPackages = ['vega', 'vega-lite', 'vega-embed'];
/**
 * The pages: one HTML shell (web/page.html) each, its script rendering the JSON endpoints. `root` is
 * the way back to the server's root from the page's path, so the pages work under any proxy prefix.
 */
const pages = {
  index: { title: 'processing status', root: './', script: 'status' },
  run: { title: 'run', root: '../', script: 'run' },
  submission: { title: 'submission', root: '../', script: 'submission' },
  outlist: { title: 'passes of an outlist', root: './', script: 'outlist' },
} as const;
/** A submission or outlist page lists at most this many passes (the counts cover all of them). */
export const submissionPassLimit = 2000;
/** The largest outlist the page takes: about 700,000 lines. */
const outlistBytes = 16 * 1024 * 1024;

export interface ServeOptions {
  context: InsightContext;
  /** The RAT versions that have processing information. */
  ratvs: readonly string[];
  /** The processing database is embedded (PouchDB): one process at a time, so no watcher beside the page. */
  embedded?: boolean;
  host: string;
  port: number;
  /** After the first change of a burst, how long to wait for the rest. */
  debounceMs?: number;
  /** Where a database has no change feed, how often the page is refreshed. */
  pollMs?: number;
  /** Heartbeat ages grow without any change: the status is recomputed at least this often while a page is open. */
  refreshMs?: number;
  warn(message: string): void;
}

export interface StatusServer {
  /** Where it listens, e.g. http://127.0.0.1:8080/ */
  url: string;
  hub: Hub<StatusReport>;
  cache: ChangeCache<StatusReport>;
  close(): Promise<void>;
}

/** An HTTP error with a message a user can act on. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function runNumber(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 2 ** 31 - 1) {
    throw new HttpError(404, `"${text}" is not a run number`);
  }
  return Number(text);
}

function vendorDirs(): string[] {
  return vendorPackages.map((name) => path.dirname(fileURLToPath(import.meta.resolve(name))));
}

/** Builds the app without listening (tests of the endpoints may inject requests). */
export async function buildApp(
  options: ServeOptions,
): Promise<{ app: FastifyInstance; hub: Hub<StatusReport>; cache: ChangeCache<StatusReport> }> {
  const { context } = options;
  const knownRatvs = new Set(options.ratvs);
  // `readStatus` answers each key (a RAT version, or '' for all); kept until the feed says something changed.
  const cache = new ChangeCache<StatusReport>(
    (ratv) => readStatus(context, ratv === '' ? {} : { ratv }),
    options.refreshMs ?? 10_000,
  );
  /** The RAT versions with processing information, passes or a watcher, oldest first. */
  const allRatvs = async (): Promise<string[]> => {
    const report = await cache.get('', { allowAged: true });
    return [...new Set([...knownRatvs, ...report.ratvs.map((r) => r.ratv)])].sort(compareVersions);
  };
  /** A RAT version with neither processing information nor passes nor a watcher: a 404 naming those that have. */
  const unknownRatv = async (ratv: string): Promise<HttpError | undefined> => {
    if (knownRatvs.has(ratv)) return undefined;
    const known = await allRatvs();
    if (known.includes(ratv)) return undefined;
    return new HttpError(
      404,
      `no processing information or passes for RAT version ${ratv} (known: ${known.join(', ') || 'none'})`,
    );
  };
  const hub = new Hub<StatusReport>(() => cache.get(''), {
    debounceMs: options.debounceMs ?? 200,
    onError: (message) => options.warn(`status could not be read: ${message}`),
  });
  const shell = await readFile(path.join(webDir, 'page.html'), 'utf8');
  const html = Object.fromEntries(
    Object.entries(pages).map(([key, fields]) => [
      key,
      shell.replace(/\{\{(\w+)\}\}/g, (_match, field: string) =>
        field === 'page' ? key : fields[field as keyof typeof fields],
      ),
    ]),
  ) as Record<keyof typeof pages, string>;

  const app = Fastify({ logger: false, forceCloseConnections: true });
  const streams = new Set<ServerResponse>();

  // Nothing that leaves the server carries a password, whatever a document or an error says.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return typeof payload === 'string' ? redact(payload) : payload;
  });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status =
      error instanceof HttpError
        ? error.statusCode
        : error instanceof OprocError && error.exitCode === 2
          ? 400
          : (error.statusCode ?? 500);
    void reply.code(status).send({ error: redact(error.message) });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `nothing at ${request.url}: see / for the status page` });
  });

  await app.register(fastifyStatic, { root: webDir, prefix: '/assets/', index: false, wildcard: true });
  await app.register(fastifyStatic, {
    root: vendorDirs(),
    prefix: '/vendor/',
    decorateReply: false,
    index: false,
    allowedPath: (pathName) => pathName.endsWith('.min.js'),
  });

  const page = (reply: FastifyReply, key: keyof typeof pages) =>
    reply.type('text/html; charset=utf-8').send(html[key]);
  /** The page, or for an unknown `?ratv=` the same page as a 404 saying so (its script says it too). */
  const pageFor = async (reply: FastifyReply, key: keyof typeof pages, ratv: string | undefined) => {
    const unknown = ratv ? await unknownRatv(ratv) : undefined;
    if (!unknown) return page(reply, key);
    const message = escapeHtml(unknown.message);
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(
        html[key]
          .replace(
            '<div id="error" class="error" hidden></div>',
            `<div id="error" class="error">${message}</div>`,
          )
          .replace(/<main id="content">.*?<\/main>/, '<main id="content"></main>'),
      );
  };
  app.get<{ Querystring: { ratv?: string } }>('/', (request, reply) =>
    pageFor(reply, 'index', request.query.ratv),
  );
  // The box "open run" on every page: a form that works without a script, too.
  app.get<{ Querystring: { run?: string; ratv?: string; filetype?: string } }>('/runs/', (request, reply) => {
    const run = runNumber((request.query.run ?? '').trim());
    const { ratv, filetype } = request.query;
    const query =
      ratv && filetype ? `?ratv=${encodeURIComponent(ratv)}&filetype=${encodeURIComponent(filetype)}` : '';
    return reply.redirect(`./${run}${query}`);
  });
  app.get<{ Params: { run: string }; Querystring: { ratv?: string } }>('/runs/:run', (request, reply) => {
    runNumber(request.params.run);
    return pageFor(reply, 'run', request.query.ratv);
  });
  app.get('/submissions/:id', (_request, reply) => page(reply, 'submission'));
  app.get('/outlist', (_request, reply) => page(reply, 'outlist'));

  app.get('/api/meta', async () => ({
    ratvs: [...knownRatvs],
    lease_seconds: context.leaseSeconds,
    embedded: options.embedded === true,
    filetypes: fileTypes,
    processing: context.processing.description,
    dataflow: context.dataflow.description,
    ratdb: context.ratdb.description,
  }));

  app.get<{ Querystring: { ratv?: string } }>('/api/status', async (request, reply) => {
    const ratv = request.query.ratv || undefined;
    // A RAT version with passes or watchers is shown even without processing information (an old one).
    const unknown = ratv === undefined ? undefined : await unknownRatv(ratv);
    if (unknown) throw unknown;
    const report = await cache.get(ratv ?? '', { allowAged: true });
    return reply.type('application/json; charset=utf-8').send(`${JSON.stringify(report, null, 2)}\n`);
  });

  app.get<{ Params: { run: string }; Querystring: { ratv?: string; filetype?: string; tag?: string } }>(
    '/api/runs/:run',
    async (request, reply) => {
      const run = runNumber(request.params.run);
      const ratv = request.query.ratv || undefined;
      if (ratv === undefined) {
        throw new HttpError(
          400,
          `ratv is required, e.g. ?ratv=${[...knownRatvs][0] ?? '7.0.8'}&filetype=L2 (api/runs/${run}/versions lists those that have a watcher or a pass of the run)`,
        );
      }
      const unknown = await unknownRatv(ratv);
      if (unknown) throw unknown;
      if (!knownRatvs.has(ratv)) {
        const known = [...knownRatvs].join(', ') || 'none';
        throw new HttpError(
          404,
          `RAT version ${ratv} has passes but no processing information here, so why cannot be asked (processing information for: ${known})`,
        );
      }
      const filetype = (request.query.filetype ?? '').toUpperCase();
      if (!(fileTypes as readonly string[]).includes(filetype)) {
        throw new HttpError(400, `filetype must be L1 or L2, not "${request.query.filetype ?? ''}"`);
      }
      const why = await explainRun(context, {
        ratv,
        filetype: filetype as FileType,
        run,
        ratdbTag: request.query.tag || null,
      });
      if (isUnknownRun(why))
        throw new HttpError(404, `run ${run} is not in the data-flow database and has no passes`);
      return reply.type('application/json; charset=utf-8').send(`${JSON.stringify(why, null, 2)}\n`);
    },
  );

  // What /runs/RUN without a query offers: never an arbitrary RAT version.
  app.get<{ Params: { run: string } }>('/api/runs/:run/versions', async (request) => {
    const run = runNumber(request.params.run);
    return runVersions(context.processing, run, knownRatvs);
  });

  app.get<{ Params: { id: string } }>('/api/submissions/:id', async (request) => {
    const id = request.params.id;
    const doc = (await context.processing.getMany([`submission_${id}`])).get(`submission_${id}`);
    if (!doc || doc.type !== 'submission') throw new HttpError(404, `no submission ${id}`);
    const runs = Array.isArray(doc.runs) ? doc.runs.filter((r): r is number => Number.isInteger(r)) : [];
    const listing = await listPasses(context.processing, { source: { kind: 'runs', runs }, submission: id });
    return submissionView(id, doc, listing.passes);
  });

  // An outlist's passes, as `oproc passes --exactly` reads them. A POST because an outlist is too long
  // for a URL; it reads and changes nothing.
  app.post<{ Body: unknown; Querystring: { name?: string } }>(
    '/api/outlist',
    { bodyLimit: outlistBytes },
    async (request): Promise<OutlistView> => {
      const name = request.query.name || 'the outlist';
      if (typeof request.body !== 'string') {
        throw new HttpError(415, 'send the outlist as text/plain, one MODULE RUN PASS per line');
      }
      const entries = parseOutlist(request.body, name);
      if (entries.length === 0)
        throw new HttpError(400, `${name} names no passes: one MODULE RUN PASS per line`);
      const listing = await listPasses(context.processing, { source: { kind: 'exactly', entries } });
      return {
        name,
        lines: entries.length,
        ...passListView(listing.passes),
        missing: listing.missing.slice(0, submissionPassLimit),
        total_missing: listing.missing.length,
      };
    },
  );

  app.get('/api/events', (request, reply) => {
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx buffers proxied responses unless told not to: an event stream must not wait in a buffer.
      'x-accel-buffering': 'no',
    });
    stream.write('retry: 2000\n\n');
    streams.add(stream);
    const unsubscribe = hub.subscribe((report) => {
      stream.write(`event: status\ndata: ${redact(JSON.stringify(report))}\n\n`);
    });
    const ping = setInterval(() => stream.write(': ping\n\n'), 15_000);
    request.raw.on('close', () => {
      clearInterval(ping);
      unsubscribe();
      streams.delete(stream);
    });
  });

  app.addHook('onClose', async () => {
    for (const stream of streams) stream.end();
    streams.clear();
    // A computation in flight gets a moment to end before its databases close; its result is dropped.
    await hub.close(500);
  });
  return { app, hub, cache };
}

/** A (RAT version, filetype) that has a watcher or a pass of a run. */
export interface RunVersion {
  ratv: string;
  filetype: string;
  /** The run's passes of this RAT version and filetype. */
  passes: number;
  /** Watchers (state documents) of this RAT version and filetype whose runs include the run. */
  watchers: { state: string; last_run: RunNumber | null }[];
  /** `why` can be asked: this server has processing information for the RAT version. */
  processing_information: boolean;
}

export interface RunVersionsView {
  run: RunNumber;
  versions: RunVersion[];
  /** The RAT versions with processing information, for a run none has a watcher or a pass of. */
  ratvs: string[];
}

/** The (RAT version, filetype) pairs with a pass of the run (its job documents) or a watcher over it. */
async function runVersions(
  store: DocumentStore,
  run: RunNumber,
  knownRatvs: ReadonlySet<string>,
): Promise<RunVersionsView> {
  const [jobs, states] = await Promise.all([
    store.allDocs({ startkey: ids.job(run, ''), endkey: `${ids.job(run, '')}\ufff0` }),
    store.allDocs({ startkey: 'watch_', endkey: 'watch_\ufff0' }),
  ]);
  const pairs = new Map<string, RunVersion>();
  const pair = (ratv: string, filetype: string) => {
    const key = `${ratv}\u0000${filetype}`;
    let found = pairs.get(key);
    if (!found) {
      found = { ratv, filetype, passes: 0, watchers: [], processing_information: knownRatvs.has(ratv) };
      pairs.set(key, found);
    }
    return found;
  };
  for (const job of jobs) {
    if (job.run !== run || !Array.isArray(job.passes)) continue;
    for (const p of job.passes as { ratv?: unknown; filetype?: unknown }[]) {
      if (typeof p.ratv === 'string' && typeof p.filetype === 'string') pair(p.ratv, p.filetype).passes++;
    }
  }
  for (const state of states) {
    if (state.type !== 'watch_state' || typeof state.ratv !== 'string' || typeof state.filetype !== 'string')
      continue;
    const block = Array.isArray(state.block) ? (state.block as number[]) : null;
    if (block && (run < block[0]! || run > block[1]!)) continue;
    pair(state.ratv, state.filetype).watchers.push({
      state: state._id,
      last_run: typeof state.last_run === 'number' ? state.last_run : null,
    });
  }
  const versions = [...pairs.values()].sort(
    (a, b) => compareVersions(b.ratv, a.ratv) || a.filetype.localeCompare(b.filetype),
  );
  return { run, versions, ratvs: [...knownRatvs].sort(compareVersions) };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** An unknown run: no data-flow document names it and it has no passes. */
function isUnknownRun(why: WhyReport): boolean {
  return !why.dataflow.known && why.passes.length === 0;
}

/** Passes as a page shows them: counts of all, the first `submissionPassLimit` listed. */
export interface PassListView {
  /** Passes per module and status, of all the passes. */
  counts: Record<string, Record<string, number>>;
  total_passes: number;
  /** The first passes, by run, module and pass; `truncated` when there are more. */
  passes: Pick<PassRow, 'run' | 'module' | 'pass' | 'status' | 'ratv' | 'filetype' | 'created'>[];
  truncated: boolean;
}

export interface SubmissionView extends PassListView {
  id: string;
  mode: unknown;
  ratv: unknown;
  filetype: unknown;
  runs: number;
  done: number;
  started: unknown;
  finished: unknown;
}

export interface OutlistView extends PassListView {
  name: string;
  /** The outlist's lines that name a pass. */
  lines: number;
  /** The first lines whose pass the processing database does not hold, with the reason. */
  missing: MissingPass[];
  total_missing: number;
}

function passListView(passes: PassRow[]): PassListView {
  const counts: Record<string, Record<string, number>> = {};
  for (const pass of passes) {
    const byStatus = (counts[pass.module] ??= {});
    byStatus[pass.status] = (byStatus[pass.status] ?? 0) + 1;
  }
  return {
    counts,
    total_passes: passes.length,
    passes: passes
      .slice(0, submissionPassLimit)
      .map(({ run, module, pass, status, ratv, filetype, created }) => ({
        run,
        module,
        pass,
        status,
        ratv,
        filetype,
        created,
      })),
    truncated: passes.length > submissionPassLimit,
  };
}

function submissionView(id: string, doc: Record<string, unknown>, passes: PassRow[]): SubmissionView {
  return {
    id,
    mode: doc.mode ?? null,
    ratv: doc.ratv ?? null,
    filetype: doc.filetype ?? null,
    runs: Array.isArray(doc.runs) ? doc.runs.length : 0,
    done: Array.isArray(doc.done) ? doc.done.length : 0,
    started: doc.started ?? null,
    finished: doc.finished ?? null,
    ...passListView(passes),
  };
}

/** Starts listening and following the change feeds. A taken port is a usage error (exit 2). */
export async function startStatusServer(options: ServeOptions): Promise<StatusServer> {
  const { app, hub, cache } = await buildApp(options);
  const stop = new AbortController();
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app.close();
    throw listenError(error, options.host, options.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  const stores: DocumentStore[] = [options.context.processing];
  if (options.context.dataflow !== options.context.processing) stores.push(options.context.dataflow);
  const followers = stores.map((store) =>
    followChanges(
      store,
      {
        onChange: () => {
          cache.invalidate();
          hub.changed();
        },
        onPolling: (reason) =>
          options.warn(`${reason}: the page is refreshed every ${(options.pollMs ?? 2000) / 1000} s`),
      },
      { pollMs: options.pollMs ?? 2000, signal: stop.signal },
    ),
  );
  // Heartbeat ages and staleness change with time alone: open pages get a new status this often.
  const refresh = setInterval(() => hub.changed(0), options.refreshMs ?? 10_000);
  // The first page need not wait for the first computation.
  void cache.get('').catch(() => {});

  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}/`,
    hub,
    cache,
    close: () =>
      (closing ??= (async () => {
        clearInterval(refresh);
        stop.abort();
        await app.close();
        await Promise.allSettled(followers);
      })()),
  };
}

function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return usageError(
      `port ${port} on ${host} is already in use: stop what listens there, or choose another with --port`,
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return usageError(`--host ${host} is not an address of this machine`);
  }
  if (code === 'EACCES') {
    return usageError(`port ${port} needs privileges on this machine: choose one above 1023 with --port`);
  }
  return usageError(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
}
