import { assert, describe, it } from "@effect/vitest"
import { fqdnOf, hostnameProblem, sameHost } from "../../src/plan/Hostname.ts"

const DOMAIN = "kyma.local"

describe("fqdnOf", () => {
  it("appends the domain to a single label (SPEC: my-svc -> my-svc.kyma.local)", () => {
    assert.strictEqual(fqdnOf("my-svc", DOMAIN), "my-svc.kyma.local")
  })

  it("keeps a hostname that already ends with the domain (SPEC: my-svc.kyma.local stays)", () => {
    assert.strictEqual(fqdnOf("my-svc.kyma.local", DOMAIN), "my-svc.kyma.local")
  })

  it("lower-cases, since DNS is case-blind", () => {
    assert.strictEqual(fqdnOf("My-Svc", DOMAIN), "my-svc.kyma.local")
    assert.strictEqual(fqdnOf("MY-SVC.KYMA.LOCAL", DOMAIN), "my-svc.kyma.local")
  })

  it("does not care how the domain is spelled", () => {
    assert.strictEqual(fqdnOf("my-svc", "Kyma.Local"), "my-svc.kyma.local")
    assert.strictEqual(fqdnOf("my-svc.kyma.local", "KYMA.LOCAL"), "my-svc.kyma.local")
  })

  it("drops a trailing root dot", () => {
    assert.strictEqual(fqdnOf("my-svc.kyma.local.", DOMAIN), "my-svc.kyma.local")
  })

  it("only treats a whole-label suffix as the domain", () => {
    assert.strictEqual(fqdnOf("my-svckyma.local", DOMAIN), "my-svckyma.local.kyma.local")
  })

  it("is deterministic", () => {
    assert.strictEqual(fqdnOf("My-Svc", DOMAIN), fqdnOf("My-Svc", DOMAIN))
  })
})

describe("hostnameProblem", () => {
  for (const ok of ["my-svc", "my-svc.kyma.local", "My-Svc.Kyma.Local", "MY-SVC", "my-svc.kyma.local."]) {
    it(`allows ${JSON.stringify(ok)}`, () => {
      assert.isUndefined(hostnameProblem(ok, DOMAIN))
    })
  }

  it("rejects a host in another domain, saying how to fix it", () => {
    assert.strictEqual(
      hostnameProblem("api.example.com", DOMAIN),
      "\"api.example.com\" is outside the cluster domain kyma.local: use a single label such as \"my-api\", or \"my-api.kyma.local\""
    )
  })

  const outside = [
    "kyma.local", // the domain itself
    "a.b.kyma.local", // more than one label before the domain
    "my-svc.notkyma.local", // ends with the domain's text but not at a label boundary
    "my-svc.kyma.local.evil.com", // the domain in the middle
    "my-svc.kyma", // a prefix of the domain
    "my-svc.local"
  ]
  for (const h of outside) {
    it(`rejects ${JSON.stringify(h)} as outside the domain`, () => {
      const p = hostnameProblem(h, DOMAIN)
      assert.isDefined(p)
      assert.include(p!, "outside the cluster domain kyma.local")
      assert.include(p!, JSON.stringify(h))
    })
  }

  it("names the domain in lower case in the fix", () => {
    assert.include(hostnameProblem("api.example.com", "Kyma.Local")!, "\"my-api.kyma.local\"")
  })
})

describe("sameHost", () => {
  it("compares case-insensitively", () => {
    assert.isTrue(sameHost("My-Svc.Kyma.Local", "my-svc.kyma.local"))
  })

  it("ignores a trailing root dot", () => {
    assert.isTrue(sameHost("my-svc.kyma.local.", "my-svc.kyma.local"))
  })

  it("tells different hosts apart", () => {
    assert.isFalse(sameHost("my-svc.kyma.local", "my-svc2.kyma.local"))
    assert.isFalse(sameHost("my-svc", "my-svc.kyma.local"))
  })
})
