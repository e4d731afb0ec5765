/** oproc's published types and helpers, for plugins. */
export type * from './backends/types.js';
export type * from './engine/types.js';
export { ExitCode, OprocError } from './errors.js';
