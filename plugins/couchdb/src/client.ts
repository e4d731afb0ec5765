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

function errorField(error: unknown, field: string): unknown {
  return error !== null && typeof error === 'object' ? (error as Record<string, unknown>)[field] : undefined;
}

/** nano turns a failed fetch into a plain Error whose message holds the cause; recover its code. */
function connectionCode(message: string): string {
  const match = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/.exec(message);
  return match?.[1] ?? 'ECONNRESET';
}

/**
 * Speaks the CouchDB 3 HTTP API to one database through nano. Credentials are sent as a Basic
 * header built here, so the password never appears in a URL nano might log; a 401 for a URL with a
 * user and no password asks `context.password(user)` once and retries.
 */
export class CouchClient {
  /** The database's masked URL, for messages. */
  readonly description: string;
  private readonly serverDescription: string;
  private server: nano.ServerScope;
  private authorization: string | undefined;
  private login: Promise<void> | undefined;
  private askedPassword: string | undefined;
  private readonly closing = new AbortController();

  constructor(
    private readonly settings: CouchSettings,
    private readonly context: BackendContext,
  ) {
    const base = settings.url.href.replace(/\/+$/, '');
    this.serverDescription = context.helpers.maskUrl(base);
    this.description = context.helpers.maskUrl(`${base}/${settings.database}`);
    if (settings.user !== undefined && settings.password !== undefined) {
      this.authorization = basic(settings.user, settings.password);
    }
    this.server = this.connect();
  }

  get database(): string {
    return this.settings.database;
  }

  private connect(): nano.ServerScope {
    // parseUrl: false keeps a path prefix in the URL (a proxy) from being taken for a database.
    const config: nano.Configuration & { parseUrl: boolean } = {
      url: plainUrl(this.settings.url),
      parseUrl: false,
      headers: this.authorization ? { Authorization: this.authorization } : {},
    };
    return nano(config);
  }

  async request(request: CouchRequest): Promise<unknown> {
    return this.send(request, false);
  }

  /** Aborts requests in flight (long-polls) and refuses new ones. */
  close(): void {
    this.closing.abort();
  }

  private async send(request: CouchRequest, afterLogin: boolean): Promise<unknown> {
    if (this.closing.signal.aborted) throw new Error(`the CouchDB store ${this.description} is closed`);
    // A caller's signal bounds the request itself (a long-poll may wait longer than the timeout).
    const timeout = request.signal ?? AbortSignal.timeout(requestTimeoutMs);
    const signals = [this.closing.signal, timeout];
    const options = {
      method: request.method ?? 'GET',
      ...(request.server ? {} : { db: this.settings.database }),
      path: request.path,
      qs: request.qs,
      body: request.body,
      signal: AbortSignal.any(signals),
    };
    try {
      return (await this.server.request(options)) as unknown;
    } catch (error) {
      if (request.signal?.aborted) throw new CouchRequestAborted();
      if (this.closing.signal.aborted) throw new Error(`the CouchDB store ${this.description} was closed`);
      if (timeout.aborted && !request.signal) throw this.unreachable('no answer within 120 s', 'ETIMEDOUT');
      const status = errorField(error, 'statusCode');
      if (typeof status !== 'number') {
        const message = error instanceof Error ? error.message : String(error);
        const reason = message
          .replace(/^error happened in your connection\. Reason: /, '')
          .replace(/^(\w*Error: )+/, '');
        throw this.unreachable(reason, connectionCode(message));
      }
      if (status === 401 && this.mayLogIn(afterLogin)) {
        await this.logIn();
        return this.send(request, true);
      }
      if (status === 401 || status === 403) throw await this.refused(options.method, request, status);
      throw this.httpError(options.method, request, status, error);
    }
  }

  private unreachable(reason: string, code: string): CouchConnectionError {
    return new CouchConnectionError(
      this.scrub(`CouchDB at ${this.serverDescription} is unreachable: ${reason}`),
      code,
    );
  }

  private httpError(method: string, request: CouchRequest, status: number, error: unknown): CouchHttpError {
    const name = errorField(error, 'error');
    const reason = errorField(error, 'reason');
    const errorName = typeof name === 'string' ? name : '';
    const where = request.server ? this.serverDescription : this.description;
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
      this.server = this.connect();
    })();
    await this.login;
  }

  /**
   * A 401 or 403 as a config error naming the database: no login, a wrong password, or a login
   * without the rights (Apache CouchDB 3 makes new databases admin-only, and only a server admin may
   * create one). `_session` tells a wrong password from missing rights; the reason text is never read.
   */
  private async refused(method: string, request: CouchRequest, status: number): Promise<Error> {
    const { user } = this.settings;
    const where = request.server ? this.serverDescription : this.description;
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
    if (!(await this.loggedInAs(user))) {
      return configError(`CouchDB at ${this.serverDescription} refused the password of user "${user}"`);
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
  private async loggedInAs(user: string): Promise<boolean> {
    try {
      const session = (await this.server.request({ path: '_session' })) as unknown;
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
