#!/usr/bin/env node
// The `tollgate-server` bin. Everything testable lives in cli-main.ts.
import { main } from './cli-main.js';

void main(process.argv.slice(2), process.env, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
