/**
 * Objects as `kubectl diff` shows them: each side as YAML with its keys sorted (as `kubectl get
 * -o yaml` prints them), compared line by line, printed as `diff -u` does (three lines of context,
 * `@@ -a,b +c,d @@` hunks, a count of 1 left out). Objects are small (tens of lines), so the
 * longest common subsequence is found by the plain quadratic table.
 */
import { stringify } from "yaml"
import type { KubeObject } from "../domain/Kube.ts"

/** Metadata the server assigns: unknowable for a planned object, noise for a live one. */
const SERVER_ASSIGNED = ["managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"] as const

/** The object as a plan compares and shows it: without what the server assigns, or status. */
export const comparable = (o: KubeObject): KubeObject => {
  const metadata: Record<string, unknown> = { ...o.metadata }
  for (const k of SERVER_ASSIGNED) delete metadata[k]
  const { status: _status, ...rest } = o
  return { ...rest, metadata: metadata as KubeObject["metadata"] }
}

export const toYaml = (o: KubeObject | undefined): string =>
  // No anchors for values that are one object twice (a policy's rules share their ports): kubectl prints both.
  o === undefined ? "" : stringify(comparable(o), { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false })

type Op = { readonly tag: " " | "-" | "+"; readonly line: string }

const linesOf = (text: string): ReadonlyArray<string> => (text === "" ? [] : text.replace(/\n$/, "").split("\n"))

const operations = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): ReadonlyArray<Op> => {
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
    }
  }
  const ops: Array<Op> = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ tag: " ", line: a[i]! })
      i++
      j++
    } else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      ops.push({ tag: "+", line: b[j]! })
      j++
    } else {
      ops.push({ tag: "-", line: a[i]! })
      i++
    }
  }
  // diff -u prints a run of removals before the additions that replace it.
  const ordered: Array<Op> = []
  for (let k = 0; k < ops.length;) {
    if (ops[k]!.tag === " ") {
      ordered.push(ops[k++]!)
      continue
    }
    const run: Array<Op> = []
    while (k < ops.length && ops[k]!.tag !== " ") run.push(ops[k++]!)
    ordered.push(...run.filter((o) => o.tag === "-"), ...run.filter((o) => o.tag === "+"))
  }
  return ordered
}

const range = (start: number, count: number) =>
  count === 1 ? `${start + 1}` : `${count === 0 ? start : start + 1},${count}`

/** `diff -u` of two texts; empty when they are equal. */
export const unifiedDiff = (from: string, to: string, labels: { readonly from: string; readonly to: string }, context = 3): string => {
  const ops = operations(linesOf(from), linesOf(to))
  const changed = ops.flatMap((o, k) => (o.tag === " " ? [] : [k]))
  if (changed.length === 0) return ""
  // Hunks: changes closer than 2 * context lines apart share one.
  const hunks: Array<[number, number]> = []
  for (const k of changed) {
    const last = hunks[hunks.length - 1]
    if (last !== undefined && k - last[1] <= 2 * context) last[1] = k
    else hunks.push([k, k])
  }
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`]
  for (const [first, last] of hunks) {
    const start = Math.max(0, first - context)
    const end = Math.min(ops.length - 1, last + context)
    // Line positions at the hunk's start, on each side.
    let aPos = 0
    let bPos = 0
    for (let k = 0; k < start; k++) {
      if (ops[k]!.tag !== "+") aPos++
      if (ops[k]!.tag !== "-") bPos++
    }
    const body = ops.slice(start, end + 1)
    const aCount = body.filter((o) => o.tag !== "+").length
    const bCount = body.filter((o) => o.tag !== "-").length
    out.push(`@@ -${range(aPos, aCount)} +${range(bPos, bCount)} @@`)
    for (const o of body) out.push(`${o.tag}${o.line}`)
  }
  return `${out.join("\n")}\n`
}
