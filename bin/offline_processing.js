#!/usr/bin/env node
// The original tool's command line, unchanged: `offline_processing CONFIG RATV FILETYPE <flags>`.
import { main } from '../dist/cli/main.js';

await main(['legacy', ...process.argv.slice(2)], import.meta.url);
