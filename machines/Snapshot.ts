/**
 * What a lifecycle machine remembers between passes, and how it is stored: the state is the
 * status code (each state projects to exactly one code and back), the context is the
 * `lastError` and `resource` fields next to it. No other state is kept anywhere.
 */

export interface ResourceRef {
  readonly name: string
  readonly uid: string
  readonly version: string
}

export interface ChildContext {
  readonly lastError: string | null
  readonly resource: ResourceRef | null
}

export const emptyChildContext: ChildContext = { lastError: null, resource: null }

/** Builds the two-way mapping between state names and status codes. */
export const codeTable = <S extends string>(codes: Readonly<Record<S, number>>, fallback: S) => {
  const byCode = new Map<number, S>(Object.entries(codes).map(([s, c]) => [c as number, s as S]))
  return {
    codes,
    codeOf: (state: S): number => codes[state],
    stateOf: (code: number | undefined): S => (code === undefined ? fallback : byCode.get(code) ?? fallback)
  }
}
