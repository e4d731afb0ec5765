#!/usr/bin/env node
// The original tool's command line, unchanged: `offline_processing CONFIG RATV FILETYPE <flags>`.
import { execute } from '@oclif/core';

await execute({ args: ['legacy', ...process.argv.slice(2)], dir: import.meta.url });
