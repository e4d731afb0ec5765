/** What only the HTTP backend needs: `_all_docs`/view rows, and sequences as opaque strings. */
import { isObject, type JsonObject } from '@oproc/couch-common';

export * from '@oproc/couch-common';

/** The `rows` of an `_all_docs` or view answer. */
export function rowsOf(body: unknown): JsonObject[] {
  const rows = isObject(body) ? body.rows : undefined;
  return Array.isArray(rows) ? rows.filter(isObject) : [];
}

/** A sequence as an opaque string (pouchdb-server gives integers, CouchDB 3 strings). */
export function seqString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value ?? '0');
}
