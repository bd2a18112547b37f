/**
 * A small reader for the Prometheus text exposition format, enough for the tests to look a
 * sample up by name and labels (in any order) instead of matching whole lines.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  readonly samples: ReadonlyArray<Sample>
  /** `# TYPE` per metric family. */
  readonly types: ReadonlyMap<string, string>
  readonly help: ReadonlyMap<string, string>
}

const unescape = (s: string): string =>
  s.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export const parseExposition = (text: string): Exposition => {
  const samples: Array<Sample> = []
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ")
      types.set(name!, type!)
      continue
    }
    if (line.startsWith("# HELP ")) {
      const rest = line.slice(7)
      const i = rest.indexOf(" ")
      help.set(rest.slice(0, i), rest.slice(i + 1))
      continue
    }
    if (line.startsWith("#")) continue
    const m = LINE.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!)
    const raw = m[3]!
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw)
    samples.push({ name: m[1]!, labels, value })
  }
  return { samples, types, help }
}

const sameLabels = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k])
}

/** The value of the sample with exactly these labels, or undefined when there is none. */
export const valueOf = (
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number | undefined => exposition.samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value
