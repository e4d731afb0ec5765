import { anySignal } from 'any-signal';
import nano from 'nano';
import type { BackendContext } from 'oproc';

import { plainUrl, type CouchSettings } from './settings.js';

/** A request as nano's `request` takes it; nano passes `signal` on to fetch. */
export interface CouchRequest {
  method?: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  /** Database-relative path, e.g. `_all_docs`; absent for the database itself. */
  path?: string;
  /** Query parameters; nano JSON-encodes `key(s)`, `startkey` and `endkey`. */
  qs?: Record<string, unknown>;
  body?: unknown;
  /** The caller's signal (long-poll); without it a request gives up after `requestTimeoutMs`. */
  signal?: AbortSignal;
  /** True for requests to the server root rather than the database. */
  server?: boolean;
}

/** The server answered with an error status. Match on `statusCode`, then `error`; never on `reason`. */
export class CouchHttpError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly error: string,
  ) {
    super(message);
    this.name = 'CouchHttpError';
  }
}

/** The server could not be reached or the connection broke; `code` makes the core's retry see it as transient. */
export class CouchConnectionError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** What failed, without the server's address. */
    readonly reason: string = message,
  ) {
    super(message);
    this.name = 'CouchConnectionError';
  }
}

/** The caller's signal stopped the request. */
export class CouchRequestAborted extends Error {
  constructor() {
    super('request aborted');
    this.name = 'CouchRequestAborted';
  }
}

const requestTimeoutMs = 120_000;

/** How long a request may go on after its signal aborted before it is given up. */
const abortGraceMs = 2000;

/**
 * The request's answer; or, once its signal has aborted and it has not ended `graceMs` later, a
 * rejection. undici's fetch can leave reading a response's body waiting forever when the signal
 * aborts while the body is read (nodejs/undici#4232, under CPU load), and a watcher aborts its
 * change feed's long-poll at every interval: a request that never ends would park the watcher
 * while its heartbeat keeps the lease (docs/RELIABILITY.md, Limits).
 */
export async function unlessAbandoned<T>(
  answer: Promise<T>,
  signal: AbortSignal,
  graceMs = abortGraceMs,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let listener: (() => void) | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    listener = () => {
      timer = setTimeout(() => reject(new Error('the request did not end after it was aborted')), graceMs);
    };
    if (signal.aborted) listener();
    else signal.addEventListener('abort', listener, { once: true });
  });
  try {
    return await Promise.race([answer, abandoned]);
  } finally {
    clearTimeout(timer);
    if (listener) signal.removeEventListener('abort', listener);
    answer.catch(() => {}); // an answer that comes after it was given up
  }
}

function errorField(error: unknown, field: string): unknown {
  return error !== null && typeof error === 'object' ? (error as Record<string, unknown>)[field] : undefined;
}

/** nano turns a failed fetch into a plain Error whose message holds the cause; recover its code. */
function connectionCode(message: string): string {
  const match = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/.exec(message);
  return match?.[1] ?? 'ECONNRESET';
}

/** How long oproc stays on a later node of a cluster before it tries the first one again. */
export const preferredNodeRetryMs = 60_000;

interface Node {
  url: URL;
  /** The node's masked URL, for messages. */
  description: string;
  server: nano.ServerScope;
}

/** A response body and its HTTP status (202: a write taken by fewer copies than its quorum). */
export interface CouchAnswer {
  body: unknown;
  status: number;
}

/**
 * Speaks the CouchDB 3 HTTP API to one database through nano, on one server or on the nodes of one
 * cluster (`urls`): the first node that answers is used; on a connection failure the request moves
 * to the next node, with one warning, and the first node is tried again after a minute. Credentials
 * are sent as a Basic header built here, so the password never appears in a URL nano might log; a
 * 401 for a URL with a user and no password asks `context.password(user)` once and retries.
 */
export class CouchClient {
  /** The database's masked URL (the first node's), for messages. */
  readonly description: string;
  private nodes: Node[];
  /** The node requests go to now. */
  private current = 0;
  /** When the client left the first node (to try it again later). */
  private leftFirstAt = 0;
  private authorization: string | undefined;
  private login: Promise<void> | undefined;
  private askedPassword: string | undefined;
  private readonly closing = new AbortController();
  /** The status of each answer nano resolved, found by the body object nano hands to its log. */
  private readonly statuses = new WeakMap<object, number>();

  constructor(
    private readonly settings: CouchSettings,
    private readonly context: BackendContext,
  ) {
    const base = settings.nodes[0]!.href.replace(/\/+$/, '');
    this.description = context.helpers.maskUrl(`${base}/${settings.database}`);
    if (settings.user !== undefined && settings.password !== undefined) {
      this.authorization = basic(settings.user, settings.password);
    }
    this.nodes = this.connect();
  }

  get database(): string {
    return this.settings.database;
  }

  /** The masked URL of the node in use, for messages. */
  get node(): string {
    return this.nodes[this.current]!.description;
  }

  private connect(): Node[] {
    return this.settings.nodes.map((url) => {
      // parseUrl: false keeps a path prefix in the URL (a proxy) from being taken for a database.
      const config: nano.Configuration & { parseUrl: boolean } = {
        url: plainUrl(url),
        parseUrl: false,
        headers: this.authorization ? { Authorization: this.authorization } : {},
        log: (entry: unknown) => this.noteStatus(entry),
      };
      return {
        url,
        description: this.context.helpers.maskUrl(url.href.replace(/\/+$/, '')),
        server: nano(config),
      };
    });
  }

  /** nano logs `{ err: null, retval, headers: { statusCode } }` just before it resolves `retval`. */
  private noteStatus(entry: unknown): void {
    if (entry === null || typeof entry !== 'object') return;
    const { err, retval, headers } = entry as { err?: unknown; retval?: unknown; headers?: unknown };
    const status = errorField(headers, 'statusCode');
    if (err === null && retval !== null && typeof retval === 'object' && typeof status === 'number')
      this.statuses.set(retval, status);
  }

  async request(request: CouchRequest): Promise<unknown> {
    return (await this.answer(request)).body;
  }

  /** The body and the HTTP status of a request. */
  async answer(request: CouchRequest): Promise<CouchAnswer> {
    return this.onSomeNode(request, false);
  }

  /** Aborts requests in flight (long-polls) and refuses new ones. */
  close(): void {
    this.closing.abort();
  }

  /**
   * Sends the request to the node in use; on a connection failure to the next node, each node once.
   * Moving on is warned about once per move. A write that reached the failed node before it died
   * comes back from the next as a 409 conflict, which the engine re-reads.
   */
  private async onSomeNode(request: CouchRequest, afterLogin: boolean): Promise<CouchAnswer> {
    if (this.current !== 0 && Date.now() - this.leftFirstAt >= preferredNodeRetryMs) {
      this.current = 0; // back to the first node: it may be up again
    }
    let failure: CouchConnectionError | undefined;
    for (let tried = 0; tried < this.nodes.length; tried++) {
      const index = this.current;
      try {
        return await this.send(index, request, afterLogin);
      } catch (error) {
        if (!(error instanceof CouchConnectionError) || this.nodes.length === 1) throw error;
        failure = error;
        const next = (index + 1) % this.nodes.length;
        if (this.current === index) {
          if (index === 0) this.leftFirstAt = Date.now();
          this.current = next;
          this.context.helpers.warn(
            this.scrub(
              `CouchDB node ${this.nodes[index]!.description} failed (${error.reason}): using ${this.nodes[next]!.description}`,
            ),
          );
        }
      }
    }
    throw failure!;
  }

  private async send(index: number, request: CouchRequest, afterLogin: boolean): Promise<CouchAnswer> {
    const node = this.nodes[index]!;
    if (this.closing.signal.aborted) throw new Error(`the CouchDB store ${this.description} is closed`);
    // A caller's signal bounds the request itself (a long-poll may wait longer than the timeout).
    // Its timer is cleared when the answer comes (AbortSignal.timeout's would stay 120 s a request).
    const timer = new AbortController();
    const timing = request.signal ? undefined : setTimeout(() => timer.abort(), requestTimeoutMs);
    const timeout = request.signal ?? timer.signal;
    // Not AbortSignal.any: on Node 20 a signal it makes stays listed on its sources while they live
    // (nodejs/node#55351), so the store's own signal, open for weeks in a watcher or `oproc serve`,
    // kept an entry for every request ever made. anySignal's clear() takes it off.
    const signal = anySignal([this.closing.signal, timeout]);
    const options = {
      method: request.method ?? 'GET',
      ...(request.server ? {} : { db: this.settings.database }),
      path: request.path,
      qs: request.qs,
      body: request.body,
      signal,
    };
    try {
      const body = await unlessAbandoned(node.server.request(options) as Promise<unknown>, signal);
      const status = body !== null && typeof body === 'object' ? this.statuses.get(body) : undefined;
      return { body, status: status ?? 200 };
    } catch (error) {
      if (request.signal?.aborted) throw new CouchRequestAborted();
      if (this.closing.signal.aborted) throw new Error(`the CouchDB store ${this.description} was closed`);
      if (timeout.aborted && !request.signal)
        throw this.unreachable(node, 'no answer within 120 s', 'ETIMEDOUT');
      const status = errorField(error, 'statusCode');
      if (typeof status !== 'number') {
        const message = error instanceof Error ? error.message : String(error);
        const reason = message
          .replace(/^error happened in your connection\. Reason: /, '')
          .replace(/^(\w*Error: )+/, '');
        throw this.unreachable(node, reason, connectionCode(message));
      }
      if (status === 401 && this.mayLogIn(afterLogin)) {
        await this.logIn();
        return this.send(index, request, true);
      }
      if (status === 401 || status === 403) throw await this.refused(node, options.method, request, status);
      throw this.httpError(node, options.method, request, status, error);
    } finally {
      clearTimeout(timing);
      signal.clear();
    }
  }

  private unreachable(node: Node, reason: string, code: string): CouchConnectionError {
    return new CouchConnectionError(
      this.scrub(`CouchDB at ${node.description} is unreachable: ${reason}`),
      code,
      this.scrub(reason),
    );
  }

  private httpError(
    node: Node,
    method: string,
    request: CouchRequest,
    status: number,
    error: unknown,
  ): CouchHttpError {
    const name = errorField(error, 'error');
    const reason = errorField(error, 'reason');
    const errorName = typeof name === 'string' ? name : '';
    const where = request.server
      ? node.description
      : this.context.helpers.maskUrl(`${node.url.href.replace(/\/+$/, '')}/${this.settings.database}`);
    const target = `${method} ${where}${request.path ? `/${request.path}` : ''}`;
    const detail = [errorName, typeof reason === 'string' ? reason : ''].filter(Boolean).join(': ');
    return new CouchHttpError(
      this.scrub(`${target} failed with HTTP ${status}${detail ? ` (${detail})` : ''}`),
      status,
      errorName,
    );
  }

  /** A 401 for a URL's user without a password: ask for it once (environment, terminal). */
  private mayLogIn(afterLogin: boolean): boolean {
    return this.settings.user !== undefined && this.settings.password === undefined && !afterLogin;
  }

  private async logIn(): Promise<void> {
    this.login ??= (async () => {
      const asked = await this.context.password(this.settings.user!);
      this.askedPassword = asked;
      this.authorization = basic(this.settings.user!, asked);
      this.nodes = this.connect();
    })();
    await this.login;
  }

  /**
   * A 401 or 403 as a config error naming the database: no login, a wrong password, or a login
   * without the rights (Apache CouchDB 3 makes new databases admin-only, and only a server admin may
   * create one). `_session` tells a wrong password from missing rights; the reason text is never read.
   */
  private async refused(node: Node, method: string, request: CouchRequest, status: number): Promise<Error> {
    const { user } = this.settings;
    const where = request.server
      ? node.description
      : this.context.helpers.maskUrl(`${node.url.href.replace(/\/+$/, '')}/${this.settings.database}`);
    const creating = method === 'PUT' && !request.server && request.path === undefined;
    const what = creating ? `creating the database ${where}` : `access to ${where}`;
    const configError = (problem: string) => this.context.helpers.configError('url', this.scrub(problem));
    if (user === undefined) {
      return configError(
        `CouchDB refused ${what} without a login (HTTP ${status}): name a user in the url ` +
          '(http://USER@HOST:PORT); the password is then read from the environment variable password_env ' +
          'names, or asked for on a terminal',
      );
    }
    if (!(await this.loggedInAs(node, user))) {
      return configError(`CouchDB at ${node.description} refused the password of user "${user}"`);
    }
    if (method === 'PUT' && request.path?.startsWith('_design/')) {
      const design = decodeURIComponent(request.path);
      return configError(
        `user "${user}" may not write ${design} in ${where} (HTTP ${status}): only an admin of the ` +
          'database or a server admin may; run `oproc init CONFIG` with an admin in the url',
      );
    }
    if (creating) {
      return configError(
        `user "${user}" may not create the database ${where} (HTTP ${status}): only a CouchDB server ` +
          'admin may; run `oproc init CONFIG` once with an admin in the url, or ask an admin to create it',
      );
    }
    return configError(
      `CouchDB refused user "${user}" ${what} (HTTP ${status}): the user is not a member of the database; ` +
        'a server admin adds members in its _security document (or use an admin in the url)',
    );
  }

  /** True when the server takes the current credentials as this user (`GET /_session`). */
  private async loggedInAs(node: Node, user: string): Promise<boolean> {
    try {
      const session = (await node.server.request({ path: '_session' })) as unknown;
      const context = errorField(session, 'userCtx');
      return errorField(context, 'name') === user;
    } catch {
      return false;
    }
  }

  /** Never let a password reach a message, even one the server or fetch echoed. */
  private scrub(message: string): string {
    const masked = this.context.helpers.maskUrl(message);
    const secrets = [this.settings.password, this.askedPassword].filter((s): s is string => Boolean(s));
    return secrets.reduce((text, secret) => text.split(secret).join('***'), masked);
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
