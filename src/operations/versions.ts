/**
 * Which RAT versions a command may be asked about (DESIGN.md 4a): those with processing information
 * in the config, and those with a pass in the processing database. `status`, `why`, `retry`,
 * `cancel` (and the status page's `?ratv=`) refuse any other, naming the known ones.
 */
import type { DocumentStore } from '../backends/types.js';
import { processingDesign } from '../engine/design.js';
import { usageError, type OprocError } from '../errors.js';
import { compareVersions } from '../modules/catalog.js';

/** The RAT versions with a pass: one row read per version, hopping through the mapped rows of `passes_by_status`. */
export async function ratvsWithPasses(store: DocumentStore): Promise<string[]> {
  const found: string[] = [];
  let startkey: unknown[] | undefined;
  for (;;) {
    const [row] = await store.queryView(processingDesign.name, 'passes_by_status', {
      reduce: false,
      limit: 1,
      ...(startkey ? { startkey } : {}),
    });
    const ratv = (row?.key as unknown[] | undefined)?.[0];
    if (typeof ratv !== 'string') break;
    found.push(ratv);
    startkey = [ratv, {}];
  }
  return found;
}

/** Whether any pass of the RAT version exists (one row read). */
export async function hasPasses(store: DocumentStore, ratv: string): Promise<boolean> {
  const rows = await store.queryView(processingDesign.name, 'passes_by_status', {
    reduce: false,
    limit: 1,
    startkey: [ratv],
    endkey: [ratv, {}],
  });
  return rows.length > 0;
}

/**
 * Undefined when the RAT version has processing information or a pass; else the usage error (exit 2)
 * naming the versions that have either.
 */
export async function unknownRatv(
  store: DocumentStore,
  withInformation: readonly string[],
  ratv: string,
): Promise<OprocError | undefined> {
  if (withInformation.includes(ratv) || (await hasPasses(store, ratv))) return undefined;
  const known = [...new Set([...withInformation, ...(await ratvsWithPasses(store))])].sort(compareVersions);
  return usageError(
    `RAT ${ratv} has no processing information here and no pass in the processing database (RAT versions that do: ${known.join(', ') || 'none'})`,
  );
}
