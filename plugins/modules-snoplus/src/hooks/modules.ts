import type { ModulesContribution } from 'oproc';

import { processingInformation } from '../information.js';

/** The experiment's processing information, as the `oproc:modules` hook. */
export default async function modules(): Promise<ModulesContribution> {
  return { processing_information: structuredClone(processingInformation) };
}
