/** The repository's root directory, for scripts and tests that read or run the project's files. */
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

// This file sits at <root>/scripts/lib/: moving it means changing this one line.
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
