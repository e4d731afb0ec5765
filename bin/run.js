#!/usr/bin/env node
// oclif's execute, with errors printed whole off a terminal (src/cli/main.ts).
import { main } from '../dist/cli/main.js';

await main(process.argv.slice(2), import.meta.url);
