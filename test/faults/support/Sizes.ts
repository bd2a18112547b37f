/**
 * How big the fault scenarios are. `npm test` runs them small: the smallest sizes that still
 * catch the defects they guard (each was put back and its scenario failed at these sizes; the
 * three caught in other tiers are named in docs/testing.md). `npm run test:soak` runs the same
 * scenarios at soak sizes (the vitest project `soak` sets SOAK=1) and prints the figures that
 * are measurements, not verdicts (RSS across churn rounds, the web view's cost). Each size can
 * still be set on its own, e.g. FAULT_APIS=200.
 */
export const SOAK = process.env["SOAK"] === "1"

const size = (name: string, small: number, soak: number): number => {
  const given = process.env[name]
  if (given === undefined || given === "") return SOAK ? soak : small
  const n = Number(given)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${given}: a positive whole number, please`)
  return n
}

export const Sizes = {
  /** Apis per control-plane or controller fault scenario. */
  apis: size("FAULT_APIS", 30, 500),
  /** Apis per churn round, and the rounds. */
  churnApis: size("CHURN_APIS", 100, 1_000),
  churnRounds: size("CHURN_ROUNDS", 2, 3),
  /** Specs the fuzz generates. */
  fuzzApis: size("FUZZ_APIS", 300, 2_000),
  /** Apis converged with the web view's pages open. */
  webApis: size("WEB_APIS", 30, 100)
} as const
