import { isObject } from '@oproc/couch-common';

export * from '@oproc/couch-common';

/** PouchDB's error objects carry `status` and `name` (the CouchDB `error`). */
export function pouchStatus(error: unknown): number | undefined {
  return isObject(error) && typeof error.status === 'number' ? error.status : undefined;
}
