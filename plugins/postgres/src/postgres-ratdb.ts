import pg from 'pg';
import type { BackendContext, Ratdb, SqlClient } from 'oproc';

/** SQLSTATEs of a refused login: wrong password (28P01), no pg_hba.conf entry or no such role (28000). */
const authFailures = new Set(['28P01', '28000']);

/** Failures worth a second try when first reaching the server: it may still be starting. */
const connectFailures = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  '57P03',
  '08006',
  '08001',
]);

interface Target {
  url: string;
  masked: string;
  user: string;
  /** The password written in the URL, if any (then the server's question is answered from it). */
  urlPassword?: string;
  config: pg.PoolConfig;
}

/** Reads `url` (and checks `password_env`) from the ratdb section; problems are config errors. */
function readTarget(context: BackendContext): Target {
  const { url } = context.section;
  if (typeof url !== 'string' || url === '') {
    throw context.helpers.configError('url', 'is missing: give postgres://user@host:port/database');
  }
  const masked = context.helpers.maskUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw context.helpers.configError(
      'url',
      `${masked} is not a URL: give postgres://user@host:port/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw context.helpers.configError('url', `${masked} must start with postgres://`);
  }
  const user = decodeURIComponent(parsed.username) || process.env.PGUSER || 'postgres';
  const urlPassword = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user;
  // Host, port and database are given one by one: pg's connection string would override a password function.
  const config: pg.PoolConfig = {
    host: decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user,
    database,
    max: 4,
    connectionTimeoutMillis: 15_000,
    idleTimeoutMillis: 10_000,
    application_name: 'oproc',
  };
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode === 'require' || sslmode === 'verify-full') config.ssl = true;
  if (sslmode === 'no-verify') config.ssl = { rejectUnauthorized: false };
  return { url, masked, user, urlPassword, config };
}

/** The variable the core reads this section's password from (mirrors the core's default). */
function passwordVariable(context: BackendContext): string {
  const { password_env: named } = context.section;
  return typeof named === 'string' && named !== '' ? named : `OPROC_${context.role.toUpperCase()}_PASSWORD`;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** An error that names the masked URL and keeps the original's code (so the core can tell "unreachable"). */
function openFailure(message: string, cause: unknown): Error {
  const error = new Error(message, { cause }) as Error & { code?: string };
  error.code = codeOf(cause);
  return error;
}

function authFailure(context: BackendContext, target: Target, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const what =
    target.urlPassword !== undefined
      ? `check the password written in ${context.role}.url`
      : `set ${passwordVariable(context)} to the password of "${target.user}" (or name another variable with "password_env")`;
  return openFailure(
    `PostgreSQL at ${target.masked} refused user "${target.user}" (${reason}): ${what}`,
    cause,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `SELECT 1`, tried a few times quickly: the server may be starting; a refused login is not retried. */
async function checkServer(
  pool: pg.Pool,
  context: BackendContext,
  target: Target,
  passwordError: () => unknown,
) {
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('SELECT 1');
      return;
    } catch (error) {
      // The core's own error (no variable, no terminal) already says what to do: pass it on unchanged.
      const asked = passwordError();
      if (asked !== undefined) throw asked;
      const code = codeOf(error);
      if (code !== undefined && authFailures.has(code)) throw authFailure(context, target, error);
      if (attempt >= attempts || code === undefined || !connectFailures.has(code)) {
        const reason = error instanceof Error ? error.message : String(error);
        throw openFailure(`cannot reach PostgreSQL at ${target.masked}: ${reason}`, error);
      }
      await sleep(200 * attempt);
    }
  }
}

function sqlClient(pool: pg.Pool, context: BackendContext): SqlClient {
  const { retry } = context.helpers;
  return {
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const result = await retry('RATDB query', () => pool.query(text, [...params]));
      return { rows: result.rows as Row[] };
    },
    async transaction(work) {
      // Only taking a connection is retried: a transaction whose COMMIT was lost must not run twice.
      const client = await retry('RATDB connection', () => pool.connect());
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const result = await work({
          query: async <Row>(text: string, params: readonly unknown[] = []) => {
            const { rows } = await client.query(text, [...params]);
            return { rows: rows as Row[] };
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        // A connection that could not roll back is discarded, never handed to the next caller.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    close: () => pool.end(),
  };
}

/** Opens the RATDB on a PostgreSQL server (`ratdb.url`), asking for a password only if the server wants one. */
export async function openPostgresRatdb(context: BackendContext): Promise<Ratdb> {
  const target = readTarget(context);
  let passwordError: unknown;
  const password =
    target.urlPassword ??
    (async () => {
      try {
        return await context.password(target.user);
      } catch (error) {
        passwordError = error;
        throw error;
      }
    });
  const pool = new pg.Pool({ ...target.config, password });
  // An idle connection that fails (server restart, network) must not end the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await checkServer(pool, context, target, () => passwordError);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return context.helpers.sqlRatdb(sqlClient(pool, context), target.masked);
}
