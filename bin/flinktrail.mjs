#!/usr/bin/env node
// The `flinktrail` command. The CLI is compiled to dist/ by `npm ci` (the `prepare` script).
import { run } from '../dist/cli/index.js';
await run(process.argv);
