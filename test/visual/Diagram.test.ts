import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { type AnyStateMachine, assign, setup, transition } from "xstate"
import {
  catalogView,
  expandTransitions,
  graphOf,
  type MachineEntry,
  toDot,
  toMermaid,
  toSvg
} from "../../src/visual/Diagram.ts"
import { lifecycleDocs, writeDocsCommand } from "../../src/visual/LifecycleDocs.ts"
import { authenticationMachine } from "../../machines/AuthenticationMachine.ts"

const repoRoot = resolve(import.meta.dirname, "../..")

// ---------------------------------------------------------------------------------------------
// What the machine does, computed here independently of src/visual

const ref = { name: "child", uid: "uid-1", version: "7" }

/**
 * Sample values of the facts the machines observe: each guard holds for one of them and fails for
 * another. A fact not listed here (a machine learnt a new one) gets `otherSamples`.
 */
const factSamples: Readonly<Record<string, ReadonlyArray<unknown>>> = {
  problems: [null, "spec.hostname: bad"],
  serviceHolder: [null, "ns/older"],
  specUsable: [true, false],
  hostnameTaken: [true, false],
  wanted: [true, false],
  own: [null, ref],
  foreign: [null, "VirtualService ns/x"],
  targetProblem: [null, "Service ns/x does not exist"],
  upToDate: [true, false],
  fqdn: ["httpbin.kyma.local"],
  hostHolder: [null, "other/holder"],
  // The VirtualService waits for authentication: every state that machine has.
  authentication: Object.keys(authenticationMachine.root.states)
}
/** Falsy and truthy, and a string for the actions that quote a fact. */
const otherSamples: ReadonlyArray<unknown> = [null, "sample"]

/**
 * The facts a machine's guards read, found by running each guard on facts that record what is
 * read (once per value, so a guard that stops early on one value still shows the rest).
 */
const factNamesOf = (machine: AnyStateMachine): ReadonlyArray<string> => {
  const names = new Set<string>()
  const guards = Object.values(machine.implementations.guards) as ReadonlyArray<(args: unknown, params: unknown) => unknown>
  for (const value of [null, false, true, "sample"]) {
    const facts = new Proxy({}, {
      get: (_, key) => {
        if (typeof key === "string") names.add(key)
        return value
      }
    })
    for (const guard of guards) guard({ context: { lastError: null, resource: null }, event: { type: "OBSERVED", facts } }, undefined)
  }
  return [...names].sort()
}

/** Every combination of sample values of the given fact names. */
const combinations = (names: ReadonlyArray<string>): Array<Record<string, unknown>> =>
  names.reduce<Array<Record<string, unknown>>>(
    (acc, name) => acc.flatMap((partial) => (factSamples[name] ?? otherSamples).map((v) => ({ ...partial, [name]: v }))),
    [{}]
  )

/** Payloads for each event type; `OBSERVED` carries facts, so every combination of the names the machine's guards read. */
const payloadsFor = (machine: AnyStateMachine, type: string): ReadonlyArray<Record<string, unknown>> => {
  switch (type) {
    case "OBSERVED":
      return combinations(factNamesOf(machine)).map((facts) => ({ facts }))
    case "APPLIED":
      return [{ resource: ref }]
    case "WRITE_FAILED":
      return [{ message: "boom", reason: "transient" }, { message: "boom", reason: "permanent" }]
    default:
      return [{}, { ok: true }]
  }
}

const stateKeys = (machine: AnyStateMachine): Array<string> => Object.keys(machine.root.states)

/** `source --EVENT--> target` for every transition xstate actually takes, by probing `transition()`. */
const probedTransitions = (machine: AnyStateMachine): Set<string> => {
  const found = new Set<string>()
  const eventTypes = machine.root.events.filter((e) => !e.startsWith("xstate."))
  for (const state of stateKeys(machine)) {
    const snapshot = machine.resolveState({ value: state, context: { lastError: null, resource: null } })
    for (const type of eventTypes) {
      for (const payload of payloadsFor(machine, type)) {
        const event = { ...payload, type }
        if (!snapshot.can(event)) continue
        const [next] = transition(machine, snapshot, event)
        found.add(`${state} --${type}--> ${String(next.value)}`)
      }
    }
  }
  return found
}

const nameOf = (x: unknown): string =>
  typeof x === "string" ? x : String((x as { readonly type?: unknown }).type ?? (x as { readonly name?: unknown }).name)

/** A guard as the diagrams write it: its name, or `!g`, `a && b`, `a || b` for xstate's combinators. */
const guardText = (g: unknown): string => {
  const parts = (g as { readonly guards?: ReadonlyArray<unknown> }).guards
  if (typeof g !== "function" || parts === undefined) return nameOf(g)
  const inner = parts.map((p) => {
    const t = guardText(p)
    return /[ &|]/.test(t) ? `(${t})` : t
  })
  return g.name === "not" ? `!${inner[0]}` : inner.join(g.name === "or" ? " || " : " && ")
}

/**
 * `source --EVENT [guard]--> target / intents` from the definition: a state's own transitions,
 * then the root's unless the state handles the event with an unguarded transition. Unguarded
 * shows as `[-]`; intents are named actions whose implementation is not an xstate assign.
 */
const definedTransitions = (machine: AnyStateMachine): Set<string> => {
  const out = new Set<string>()
  const actions = machine.implementations.actions as Record<string, { readonly type?: string } | undefined>
  const describe = (state: string, t: { guard?: unknown; target?: ReadonlyArray<{ key: string }> | undefined; actions: ReadonlyArray<unknown>; eventType: string }) => {
    const intents = t.actions.map(nameOf).filter((a) => actions[a]?.type !== "xstate.assign")
    const target = t.target?.[0]?.key ?? state
    return `${state} --${t.eventType} [${t.guard === undefined ? "-" : guardText(t.guard)}]--> ${target} / ${intents.join(",")}`
  }
  // No target and no actions: only stops the event from reaching the root; nothing happens.
  const forbidden = (t: { target?: ReadonlyArray<unknown> | undefined; actions: ReadonlyArray<unknown> }) =>
    (t.target ?? []).length === 0 && t.actions.length === 0
  for (const state of stateKeys(machine)) {
    const node = machine.root.states[state]!
    const events = new Set([...node.transitions.keys(), ...machine.root.transitions.keys()])
    for (const event of events) {
      const own = node.transitions.get(event) ?? []
      const inherited = own.some((t) => t.guard === undefined) ? [] : machine.root.transitions.get(event) ?? []
      for (const t of [...own, ...inherited]) if (!forbidden(t)) out.add(describe(state, t))
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// What a diagram shows

interface ShownEdge {
  readonly source: string
  readonly target: string
  readonly event: string
  readonly guard: string | null
  readonly intents: ReadonlyArray<string>
}

const decodeMermaid = (text: string) => text.replace(/#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))

const parseLabel = (label: string) => {
  const m = /^(\S+)(?: \[(.+?)\])?(?: \/ (.+))?$/.exec(label)
  assert.isNotNull(m, `edge label '${label}' reads EVENT [guard] / intents`)
  return { event: m![1]!, guard: m![2] ?? null, intents: m![3]?.split(", ") ?? [] }
}

/** Edges of a diagram, with "any state ..." pseudo-states expanded to the states they stand for. */
const expandShown = (
  states: ReadonlyArray<string>,
  pseudo: ReadonlyMap<string, string>,
  raw: ReadonlyArray<{ source: string; target: string; label: string }>
): Array<ShownEdge> =>
  raw.flatMap(({ source, target, label }) => {
    const pseudoLabel = pseudo.get(source)
    let sources = [source]
    if (pseudoLabel !== undefined) {
      const m = /^any state(?: except (.+))?$/.exec(pseudoLabel)
      assert.isNotNull(m, `pseudo-state label '${pseudoLabel}'`)
      const except = m![1]?.split(", ") ?? []
      sources = states.filter((s) => !except.includes(s))
    }
    return sources.map((s) => ({ source: s, target, ...parseLabel(label) }))
  })

const parseMermaid = (text: string, states: ReadonlyArray<string>) => {
  const declared = new Map<string, string>()
  const raw: Array<{ source: string; target: string; label: string }> = []
  let initial: string | undefined
  for (const line of text.split("\n")) {
    const state = /^\s*state "(.*)" as (\S+)$/.exec(line)
    if (state) declared.set(state[2]!, decodeMermaid(state[1]!))
    const start = /^\s*\[\*\] --> (\S+)$/.exec(line)
    if (start) initial = start[1]
    const edge = /^\s*(\S+) --> (\S+) : (.*)$/.exec(line)
    if (edge) {
      for (const label of edge[3]!.split("<br/>")) raw.push({ source: edge[1]!, target: edge[2]!, label: decodeMermaid(label) })
    }
  }
  const pseudo = new Map([...declared].filter(([id]) => !states.includes(id)))
  return { declared, initial, edges: expandShown(states, pseudo, raw) }
}

const parseDot = (text: string, states: ReadonlyArray<string>) => {
  const declared = new Map<string, string>()
  const raw: Array<{ source: string; target: string; label: string }> = []
  for (const line of text.split("\n")) {
    const node = /^\s*"([^"]+)" \[label="([^"]*)"/.exec(line)
    if (node) declared.set(node[1]!, node[2]!)
    const edge = /^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"\];$/.exec(line)
    if (edge) for (const label of edge[3]!.split("\\n")) raw.push({ source: edge[1]!, target: edge[2]!, label })
  }
  const pseudo = new Map([...declared].filter(([id]) => !states.includes(id)))
  return { declared, edges: expandShown(states, pseudo, raw) }
}

const triple = (e: ShownEdge) => `${e.source} --${e.event}--> ${e.target}`
const full = (e: ShownEdge) =>
  `${e.source} --${e.event} [${e.guard === null || e.guard === "else" ? "-" : e.guard}]--> ${e.target} / ${e.intents.join(",")}`

const sorted = (xs: Iterable<string>) => [...xs].sort()

/** The checks every machine's diagrams must pass. */
const checkDiagrams = (entry: MachineEntry, transient: ReadonlyArray<string> = []) => {
  const { machine, codes } = entry
  const states = stateKeys(machine)
  /** What a state's box says after its name: its code, or why it has none. */
  const codeText = (s: string) =>
    transient.includes(s) ? "within a pass" : codes[s] === null ? "not reported" : String(codes[s])

  it("every stored state has a status code (or none: its field is left out); transient states have none", () => {
    assert.deepStrictEqual(sorted([...Object.keys(codes), ...transient]), sorted(states))
  })

  it("Mermaid: every state with its code, the initial state, and every transition the machine takes", () => {
    const mermaid = parseMermaid(toMermaid(entry), states)
    for (const s of states) assert.strictEqual(mermaid.declared.get(s), `${s} (${codeText(s)})`, `state ${s}`)
    assert.strictEqual(mermaid.initial, machine.root.initial.target[0]?.key)
    assert.deepStrictEqual(sorted(new Set(mermaid.edges.map(triple))), sorted(probedTransitions(machine)))
    assert.deepStrictEqual(sorted(new Set(mermaid.edges.map(full))), sorted(definedTransitions(machine)))
  })

  it("DOT: every state with its code and every transition the machine takes", () => {
    const dot = parseDot(toDot(entry), states)
    for (const s of states) assert.strictEqual(dot.declared.get(s), `${s} (${codeText(s)})`, `state ${s}`)
    assert.deepStrictEqual(sorted(new Set(dot.edges.map(triple))), sorted(probedTransitions(machine)))
    assert.deepStrictEqual(sorted(new Set(dot.edges.map(full))), sorted(definedTransitions(machine)))
  })

  it("expandTransitions lists what the machine takes from each state", () => {
    const expanded = expandTransitions(graphOf(entry)).map((t) =>
      full({ ...t, guard: t.guard, intents: t.intents })
    )
    assert.deepStrictEqual(sorted(new Set(expanded)), sorted(definedTransitions(machine)))
  })

  it("SVG: every state with its code, every transition; highlight marks exactly the chosen state", () => {
    const plain = toSvg(entry)
    for (const s of states) {
      assert.include(plain, `data-state="${s}" data-code="${codes[s] ?? ""}"`)
      assert.include(plain, `>${s} (${codeText(s)})</text>`)
    }
    assert.notInclude(plain, "data-highlighted")
    const appliesTo = new Map([...plain.matchAll(/data-any="([^"]+)" data-applies-to="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.split(" ")]))
    const drawn = [...plain.matchAll(/data-source="([^"]+)" data-target="([^"]+)" data-events="([^"]+)"/g)].flatMap((m) =>
      (appliesTo.get(m[1]!) ?? [m[1]!]).flatMap((source) => m[3]!.split(" ").map((event) => `${source} --${event}--> ${m[2]}`))
    )
    assert.deepStrictEqual(sorted(new Set(drawn)), sorted(probedTransitions(machine)))
    for (const s of states) {
      const svg = toSvg(entry, { highlight: s })
      const marked = [...svg.matchAll(/data-state="([^"]+)"[^>]*data-highlighted="true"/g)].map((m) => m[1])
      assert.deepStrictEqual(marked, [s])
      assert.strictEqual(svg.split("data-highlighted").length - 1, 1)
    }
    assert.throws(() => toSvg(entry, { highlight: "NoSuchState" }), /no state 'NoSuchState'/)
  })

  it("output is deterministic", () => {
    assert.strictEqual(toMermaid(entry), toMermaid(entry))
    assert.strictEqual(toSvg(entry, { highlight: states[0] }), toSvg(entry, { highlight: states[0] }))
  })
}

// ---------------------------------------------------------------------------------------------

describe("committed lifecycle docs", () => {
  for (const file of lifecycleDocs()) {
    it(`${file.path} matches the machines`, () => {
      let committed: string | null = null
      try {
        committed = readFileSync(join(repoRoot, file.path), "utf8")
      } catch {
        // missing: reported below
      }
      if (committed === file.content) return
      const ours = file.content.split("\n")
      const theirs = committed?.split("\n") ?? []
      const line = ours.findIndex((l, i) => l !== theirs[i])
      assert.fail(
        `${file.path} is ${committed === null ? "missing" : "out of date"}: the machines changed without regenerating the docs.\n` +
          `Regenerate with: ${writeDocsCommand}\n` +
          (committed === null ? "" : `first difference at line ${line + 1}:\n  committed: ${theirs[line]}\n  generated: ${ours[line]}`)
      )
    })
  }
})

/**
 * What the lifecycle generator writes looks like this: its name (`lifecycle.md`, `lifecycle-*.svg`),
 * the class its SVGs carry, or the note its Markdown opens with.
 */
const looksGenerated = (path: string, text: string) =>
  /(^|\/)lifecycle[-.][^/]*$/.test(path) || text.includes(`class="lifecycle"`) || text.includes(writeDocsCommand)

/** Every file under docs/, relative to the repository root. */
const docsFiles = (dir = "docs"): ReadonlyArray<string> =>
  readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? docsFiles(`${dir}/${e.name}`) : [`${dir}/${e.name}`]
  )

describe("no orphaned lifecycle docs", () => {
  it("every file in docs/ that looks generated from the machines is one the generator writes today", () => {
    const generated = new Set(lifecycleDocs().map((f) => f.path))
    const orphans = docsFiles().filter((path) =>
      !generated.has(path) && looksGenerated(path, readFileSync(join(repoRoot, path), "latin1"))
    )
    assert.deepStrictEqual(orphans, [], `left behind by a machine that was renamed or removed: delete them (the generator is ${writeDocsCommand})`)
  })

  it("the check recognises the generator's own files, and not other docs", () => {
    const [markdown, svg] = lifecycleDocs()
    assert.isTrue(looksGenerated("docs/some.md", markdown!.content), "the Markdown, by its note")
    assert.isTrue(looksGenerated("docs/other.svg", svg!.content), "an SVG, by its class")
    assert.isTrue(looksGenerated("docs/lifecycle-policy.svg", "<svg/>"), "by name")
    assert.isFalse(looksGenerated("docs/architecture.md", "# Architecture\n\nsee docs/lifecycle.md"))
    assert.isFalse(looksGenerated("docs/web-view.png", "\x89PNG"))
  })
})

describe("the catalog as the diagrams read it", () => {
  it("lists the three machines with the status field each drives", () => {
    assert.deepStrictEqual(
      catalogView.map((e) => [e.name, e.statusField]),
      [
        ["validation", "status.validationStatus"],
        ["authentication", "status.authenticationStatus.code"],
        ["virtualService", "status.virtualService.code"]
      ]
    )
  })
})

for (const entry of catalogView) {
  const transient = Object.keys(entry.machine.root.states).filter((s) => !Object.hasOwn(entry.codes, s))
  describe(`diagrams of ${entry.name}`, () => checkDiagrams(entry, transient))
}

// A machine with what the real ones do not have (yet): a state that handles a root event itself,
// unguarded (shadows the root) or guarded (falls through to the root when the guard fails).
const shadowing = setup({
  types: { events: {} as { type: "GO"; ok?: boolean } | { type: "STOP" }, context: {} as { lastError: string | null } },
  guards: { ok: ({ event }) => event.type === "GO" && event.ok === true },
  actions: { launch: () => {}, note: assign({ lastError: "noted" }) }
}).createMachine({
  id: "shadowing",
  context: { lastError: null },
  initial: "A",
  on: { GO: { target: ".B", actions: ["note", "launch"] }, STOP: ".A" },
  states: {
    A: { on: { GO: { guard: "ok", target: "C" } } },
    B: { on: { STOP: { target: "C", actions: "note" } } },
    C: {}
  }
})
const shadowingEntry: MachineEntry = {
  name: "shadowing",
  machine: shadowing,
  codes: { A: 0, B: 1, C: 2 },
  statusField: "status.test",
  source: "test/visual/Diagram.test.ts",
  summary: "test"
}

describe("diagrams of a machine whose states shadow root transitions", () => {
  checkDiagrams(shadowingEntry)

  it("draws a shadowed root transition from 'any state except ...'", () => {
    const mermaid = toMermaid(shadowingEntry)
    assert.include(mermaid, `state "any state" as any\n`)
    assert.include(mermaid, `state "any state except B" as any2\n`)
    assert.include(mermaid, "any --> B : GO / launch\n")
    assert.include(mermaid, "any2 --> A : STOP\n")
    assert.include(mermaid, "A --> C : GO [ok]\n")
  })

  it("expandTransitions marks the root fallback behind a guarded own transition as else", () => {
    const fromA = expandTransitions(graphOf(shadowingEntry)).filter((t) => t.source === "A" && t.event === "GO")
    assert.deepStrictEqual(fromA.map((t) => [t.guard, t.otherwise, t.target]), [["ok", false, "C"], [null, true, "B"]])
  })
})

describe("machines the renderer cannot draw", () => {
  it("fail loudly instead of drawing an incomplete diagram", () => {
    const nested = setup({}).createMachine({ id: "nested", initial: "A", states: { A: { initial: "X", states: { X: {} } } } })
    assert.throws(
      () => toMermaid({ ...shadowingEntry, name: "nested", machine: nested, codes: { A: 0 } }),
      /state 'A' is compound.*src\/visual/
    )
  })
})
