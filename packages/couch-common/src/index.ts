import type { DesignDocument, StoredDocument, ViewDefinition } from 'oproc';

/** Narrowing helpers for CouchDB-model answers: the server is trusted for shape, not for types. */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function asDocument(value: unknown): StoredDocument | undefined {
  return isObject(value) && typeof value._id === 'string' ? (value as StoredDocument) : undefined;
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

/**
 * Bulk-write answer rows matched to the documents by id: pouchdb-server does not always keep the
 * order. A request holds each id once (`writeInRounds`), so the id alone says which row is whose.
 */
export function rowsInOrderOf(docs: readonly StoredDocument[], rows: readonly unknown[]): unknown[] {
  const byId = new Map<string, unknown>();
  for (const row of rows) if (isObject(row) && typeof row.id === 'string') byId.set(row.id, row);
  return docs.map((doc, i) => byId.get(doc._id) ?? rows[i]);
}

/**
 * Writes `docs` in requests that hold each id once: the first copy of every id in the first
 * request, the second copies in the next, and so on, each request after the one before. Answers
 * in the order of `docs`. pouchdb-server answers two rows of one id in either order (about one
 * request in eighty, writing a conflict's winner and deleting its loser), so their revisions could
 * not be told apart; a write with no repeated id is a single request.
 */
export async function writeInRounds<Row>(
  docs: readonly StoredDocument[],
  write: (docs: readonly StoredDocument[]) => Promise<Row[]>,
): Promise<Row[]> {
  const rounds: number[][] = [];
  const copies = new Map<string, number>();
  docs.forEach((doc, i) => {
    const copy = copies.get(doc._id) ?? 0;
    copies.set(doc._id, copy + 1);
    (rounds[copy] ??= []).push(i);
  });
  if (rounds.length <= 1) return write(docs);
  const answers = new Array<Row>(docs.length);
  for (const round of rounds) {
    const rows = await write(round.map((i) => docs[i]!));
    round.forEach((i, k) => (answers[i] = rows[k]!));
  }
  return answers;
}

/**
 * The design document to write so the stored one has these views, or undefined when it already has
 * them (compared whatever the key order), so an unchanged definition is never rewritten.
 */
export function designToWrite(
  design: DesignDocument,
  stored: StoredDocument | undefined,
): StoredDocument | undefined {
  const views = storedViews(design.views);
  if (stored && stored.language === 'javascript' && canonical(stored.views) === canonical(views))
    return undefined;
  return { ...stored, _id: `_design/${design.name}`, language: 'javascript', views };
}
