/**
 * The README's two opening commands are the whole recipe for a fresh machine, and CI runs the
 * second one and then only the soak tier the README's Tests section names, so a green CI cannot
 * hide an install step a reader would miss:
 *
 * - the README opens with `npm ci && npm start` and `npm ci && npm test`, each an npm script;
 * - `.ci/run` runs the README's test command verbatim (its failure ends the script), then
 *   `npm run test:soak`, last, and no other npm;
 * - `.ci/run` installs nothing itself: no Debian packages, no downloads, no global installs.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"

/** The commands of the README's first ```sh block, without their trailing comments. */
const readmeCommands = (readme: string): ReadonlyArray<string> => {
  const block = /^```sh\n([\s\S]*?)^```/m.exec(readme)
  assert.isNotNull(block, "the README has no ```sh block")
  return block![1]!.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l !== "")
}

/** The lines `.ci/run` executes: comments and blank lines dropped, trailing comments cut. */
const scriptLines = (script: string): ReadonlyArray<string> =>
  script.split("\n").map((l) => l.replace(/(^|\s)#.*$/, "").trim()).filter((l) => l !== "")

/** What would install or fetch something besides the README's commands. */
const INSTALLS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(apt-get|apt|aptitude|dpkg)\b/, "a Debian package"],
  [/\b(curl|wget)\b/, "a download"],
  [/\bnpm\s+(install|i|add)\b.*\s(-g|--global)\b/, "a global npm package"],
  [/\b(pip3?|pipx)\s+install\b/, "a Python package"],
  [/\bgo\s+install\b/, "a Go binary"]
]

/** The soak tier: in CI after the README's test command, and documented in the README's Tests section. */
const SOAK_COMMAND = "npm run test:soak"

const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8")
const ciRun = readFileSync(join(REPO_ROOT, ".ci/run"), "utf8")
const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts

describe("the README's opening commands and .ci/run", () => {
  const commands = readmeCommands(readme)

  it("the README opens with one command to run the project and one to test it, each an npm script", () => {
    assert.lengthOf(commands, 2, `the README's opening block: ${JSON.stringify(commands)}`)
    assert.match(commands[0]!, /^npm ci && npm start( |$)/)
    assert.strictEqual(commands[1], "npm ci && npm test")
    for (const command of commands) {
      const script = /&& npm (?:run )?(\S+)/.exec(command)?.[1]
      assert.isDefined(script && scripts[script], `${command}: no such npm script`)
    }
  })

  it(".ci/run runs exactly the README's test command, stopping if it fails, then the soak tier last, and no other npm command", () => {
    const lines = scriptLines(ciRun)
    const npmLines = lines.filter((l) => /\b(npm|npx|vitest|tsx)\b/.test(l))
    // `set -e` ignores a failure on the left of &&: `|| exit` is what makes it end the script.
    assert.deepStrictEqual(npmLines, [`${commands[1]} || exit`, SOAK_COMMAND], "npm in .ci/run")
    assert.strictEqual(lines.at(-1), SOAK_COMMAND, ".ci/run's last command (its exit status) is the soak tier")
    assert.isDefined(scripts["test:soak"], "test:soak is an npm script")
  })

  it("the README says how to run the soak tier that CI runs", () => {
    assert.include(readme, SOAK_COMMAND)
  })

  it(".ci/run installs nothing the README's commands do not: no Debian packages, downloads or global installs", () => {
    for (const line of scriptLines(ciRun)) {
      for (const [pattern, what] of INSTALLS) assert.notMatch(line, pattern, `.ci/run installs ${what}: ${line}`)
    }
  })
})
