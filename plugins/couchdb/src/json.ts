import type { StoredDocument, ViewDefinition } from 'oproc';

/** Narrowing helpers for the JSON CouchDB answers: the server is trusted for shape, not for types. */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function asDocument(value: unknown): StoredDocument | undefined {
  return isObject(value) && typeof value._id === 'string' ? (value as StoredDocument) : undefined;
}

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

/** JSON with object keys sorted, so two equal definitions compare equal whatever their key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const entries = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Views as they are stored: `map`, and `reduce` only when there is one. */
export function storedViews(views: Record<string, ViewDefinition>): Record<string, ViewDefinition> {
  return Object.fromEntries(
    Object.entries(views).map(([name, view]) => [
      name,
      view.reduce === undefined ? { map: view.map } : { map: view.map, reduce: view.reduce },
    ]),
  );
}

/** Bulk-write answer rows matched to the documents by id: pouchdb-server does not always keep the order. */
export function rowsInOrderOf(docs: readonly StoredDocument[], rows: readonly unknown[]): unknown[] {
  const byId = new Map<string, unknown[]>();
  for (const row of rows) {
    if (!isObject(row) || typeof row.id !== 'string') continue;
    byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
  }
  return docs.map((doc, i) => byId.get(doc._id)?.shift() ?? rows[i]);
}
