import { defineConfig } from "vitest/config"

// Three tiers in `npm test`: "fast" runs everything in memory (pure core, machines, reconciler on
// the in-memory cluster with a test clock); "cluster" runs against a real kube-apiserver + etcd
// that the global setup builds (if needed) and starts once per run; "faults" (after both) starts
// control planes of its own and breaks them: kube-apiserver killed and restarted, etcd paused,
// watch history compacted, the controller (the production bundle, a process of its own) killed,
// two replicas under leader election, hostile input, a fuzz, churn, and the web view under load,
// each at the smallest size that still catches what it was built for (test/faults/support/Sizes.ts).
// "soak" (`npm run test:soak`, not in `npm test`) runs the same fault scenarios at soak sizes,
// printing the memory and cost figures, and whatever lives in test/soak/.
const faults = {
  globalSetup: ["test/faults/globalSetup.ts"],
  // A scenario converges hundreds of Apis around a fault; its own deadlines say when it
  // has failed, these only stop a hang.
  testTimeout: 600_000,
  hookTimeout: 180_000,
  fileParallelism: false
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "fast",
          include: ["test/**/*.test.ts"],
          exclude: ["test/cluster/**", "test/faults/**", "test/soak/**"],
          // Only to stop a hang: vitest's 5 s default failed CPU-heavy cases (200 Apis started
          // over, 12,000 held Events) when both cores were busy with other work.
          testTimeout: 30_000,
          hookTimeout: 30_000
        }
      },
      {
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          globalSetup: ["test/cluster/globalSetup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // One control plane on two cores: run the files one at a time.
          fileParallelism: false
        }
      },
      {
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          ...faults,
          // The control planes and controllers of this tier need the machine to themselves.
          sequence: { groupOrder: 1 }
        }
      },
      {
        test: {
          name: "soak",
          include: ["test/faults/**/*.test.ts", "test/soak/**/*.test.ts"],
          ...faults,
          env: { SOAK: "1" },
          // Never beside the fault tier, should both be asked for.
          sequence: { groupOrder: 2 }
        }
      }
    ]
  }
})
