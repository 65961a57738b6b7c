#!/usr/bin/env node
// The `taskwire` command. A committed stub, so that npm links the bin on a fresh
// `npm install` (it runs before `prepare` has built dist/); the CLI is src/bin.ts.
import '../dist/bin.js';
