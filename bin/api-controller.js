#!/usr/bin/env node
// The `api-controller` command of a checkout (package.json `bin`; `npx api-controller ...` after
// `npm ci`). Node cannot run the TypeScript sources itself: its type stripping refuses syntax
// that needs compiling (parameter properties, enums), so tsx's loader compiles them in this
// process, as `npm run controller` does. The container image runs the bundle instead
// (`npm run bundle`, dist/main.js), which needs neither tsx nor node_modules.
import { register } from "tsx/esm/api"

register()
await import("../src/main.ts")
