import { defineConfig } from "vitest/config"

// Two tiers: "fast" runs everything in memory (pure core, machines, reconciler on the in-memory
// cluster with a test clock); "cluster" runs against a real kube-apiserver + etcd that the
// global setup builds (if needed) and starts once per run.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "fast",
          include: ["test/**/*.test.ts"],
          exclude: ["test/cluster/**"]
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
      }
    ]
  }
})
