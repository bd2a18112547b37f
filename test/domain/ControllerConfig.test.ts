import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { type ControllerConfig, type Env, parseControllerConfig, splitList } from "../../src/domain/ControllerConfig.ts"
import { formatProblem } from "../../src/domain/Problems.ts"
import { testConfig, testEnv } from "../support/Fixtures.ts"

const required = {
  DOMAIN_NAME: "kyma.local",
  GATEWAY_FQDN: "kyma-gateway.kyma-system.svc.cluster.local",
  DEFAULT_ISSUER: "https://dex.kyma.local",
  DEFAULT_JWKS_URI: "http://dex-service.kyma-system.svc.cluster.local:5556/keys"
} as const

const parse = (env: Env): ControllerConfig => {
  const r = parseControllerConfig(env)
  if (Result.isFailure(r)) throw new Error(r.failure.map(formatProblem).join("\n"))
  return r.success
}

/** The lines the controller prints at start, or [] when the configuration is good. */
const problemLines = (env: Env): ReadonlyArray<string> => {
  const r = parseControllerConfig(env)
  return Result.isFailure(r) ? r.failure.map(formatProblem) : []
}

describe("parseControllerConfig: a good environment", () => {
  it("reads the legacy names into the full configuration", () => {
    assert.deepStrictEqual(parse(testEnv), {
      domainName: "kyma.local",
      gatewayFqdn: "kyma-gateway.kyma-system.svc.cluster.local",
      defaultIssuer: "https://dex.kyma.local",
      defaultJwksUri: "http://dex-service.kyma-system.svc.cluster.local:5556/keys",
      enableMtls: true,
      blacklistedServices: [
        { name: "kubernetes", namespace: "default" },
        { name: "istio-ingressgateway", namespace: "istio-system" }
      ],
      logLevel: "Info",
      authBackend: "istio-policy"
    })
  })

  it("the shared test configuration is that configuration", () => {
    assert.deepStrictEqual(testConfig, parse(testEnv))
  })

  it("needs only the four required variables; the rest have defaults", () => {
    assert.deepStrictEqual(parse(required), {
      domainName: "kyma.local",
      gatewayFqdn: "kyma-gateway.kyma-system.svc.cluster.local",
      defaultIssuer: "https://dex.kyma.local",
      defaultJwksUri: "http://dex-service.kyma-system.svc.cluster.local:5556/keys",
      enableMtls: true,
      blacklistedServices: [],
      logLevel: "Info",
      authBackend: "auto"
    })
  })

  it("trims surrounding whitespace from values", () => {
    const c = parse({ ...required, DOMAIN_NAME: "  kyma.local  ", GATEWAY_FQDN: " gw.kyma-system.svc.cluster.local\n" })
    assert.strictEqual(c.domainName, "kyma.local")
    assert.strictEqual(c.gatewayFqdn, "gw.kyma-system.svc.cluster.local")
  })

  it("lower-cases the domain and drops a leading dot", () => {
    assert.strictEqual(parse({ ...required, DOMAIN_NAME: ".Kyma.Local" }).domainName, "kyma.local")
  })

  it("accepts a gateway given as <namespace>/<name>", () => {
    assert.strictEqual(parse({ ...required, GATEWAY_FQDN: "kyma-system/kyma-gateway" }).gatewayFqdn, "kyma-system/kyma-gateway")
  })

  it("ignores variables it does not know", () => {
    assert.deepStrictEqual(parse({ ...required, PATH: "/usr/bin", HOME: "/root" }), parse(required))
  })

  it("gives the same configuration for the same environment (determinism)", () => {
    assert.deepStrictEqual(parseControllerConfig(testEnv), parseControllerConfig(testEnv))
  })
})

describe("parseControllerConfig: required variables", () => {
  it("an empty environment gives one line per missing variable, saying what it is for", () => {
    assert.deepStrictEqual(problemLines({}), [
      "DOMAIN_NAME: is required (the cluster domain, e.g. kyma.local)",
      "GATEWAY_FQDN: is required (the Istio gateway, e.g. kyma-gateway.kyma-system.svc.cluster.local)",
      "DEFAULT_ISSUER: is required (the JWT issuer used when authentication is on without rules)",
      "DEFAULT_JWKS_URI: is required (the JWKS URL of the default issuer)"
    ])
  })

  for (const name of Object.keys(required) as ReadonlyArray<keyof typeof required>) {
    it(`${name} missing is one line naming it`, () => {
      const { [name]: _, ...rest } = required
      const lines = problemLines(rest)
      assert.strictEqual(lines.length, 1)
      assert.isTrue(lines[0]!.startsWith(`${name}: is required`), lines[0])
    })

    it(`${name} empty or blank counts as missing`, () => {
      assert.isTrue(problemLines({ ...required, [name]: "   " })[0]!.startsWith(`${name}: is required`))
    })
  }
})

describe("parseControllerConfig: malformed values", () => {
  it("a domain that is not a DNS name", () => {
    assert.deepStrictEqual(problemLines({ ...required, DOMAIN_NAME: "kyma local" }), [
      "DOMAIN_NAME: expected a DNS domain such as kyma.local, got \"kyma local\""
    ])
  })

  it("a gateway that is not a host name", () => {
    assert.deepStrictEqual(problemLines({ ...required, GATEWAY_FQDN: "kyma gateway" }), [
      "GATEWAY_FQDN: expected a gateway host such as kyma-gateway.kyma-system.svc.cluster.local, got \"kyma gateway\""
    ])
  })

  it("a default issuer that is not an absolute http(s) URL", () => {
    assert.deepStrictEqual(problemLines({ ...required, DEFAULT_ISSUER: "dex.kyma.local" }), [
      "DEFAULT_ISSUER: expected an absolute http(s) URL, got \"dex.kyma.local\""
    ])
  })

  it("a default JWKS URI with another scheme", () => {
    assert.deepStrictEqual(problemLines({ ...required, DEFAULT_JWKS_URI: "ftp://dex/keys" }), [
      "DEFAULT_JWKS_URI: expected an absolute http(s) URL, got \"ftp://dex/keys\""
    ])
  })

  it("every bad variable is reported at once, one line each, in a stable order", () => {
    assert.deepStrictEqual(
      problemLines({
        DOMAIN_NAME: "kyma local",
        DEFAULT_ISSUER: "dex",
        DEFAULT_JWKS_URI: "keys",
        ENABLE_MTLS: "maybe",
        BLACKLISTED_SERVICES: "kubernetes, a.b.c",
        LOG_LEVEL: "loud"
      }),
      [
        "DOMAIN_NAME: expected a DNS domain such as kyma.local, got \"kyma local\"",
        "GATEWAY_FQDN: is required (the Istio gateway, e.g. kyma-gateway.kyma-system.svc.cluster.local)",
        "DEFAULT_ISSUER: expected an absolute http(s) URL, got \"dex\"",
        "DEFAULT_JWKS_URI: expected an absolute http(s) URL, got \"keys\"",
        "ENABLE_MTLS: expected true or false, got \"maybe\"",
        "BLACKLISTED_SERVICES: expected comma-separated <service>.<namespace> entries such as kubernetes.default, got \"kubernetes\", \"a.b.c\"",
        "LOG_LEVEL: expected one of trace, debug, info, warn, error, got \"loud\""
      ]
    )
  })
})

describe("parseControllerConfig: ENABLE_MTLS", () => {
  it("is on when unset (secure by default)", () => {
    assert.isTrue(parse(required).enableMtls)
  })

  it("is on when set to nothing", () => {
    assert.isTrue(parse({ ...required, ENABLE_MTLS: "" }).enableMtls)
  })

  for (const v of ["true", "TRUE", "True", "1", "yes", " true "]) {
    it(`${JSON.stringify(v)} turns it on`, () => {
      assert.isTrue(parse({ ...required, ENABLE_MTLS: v }).enableMtls)
    })
  }

  for (const v of ["false", "FALSE", "False", "0", "no", " false "]) {
    it(`${JSON.stringify(v)} turns it off`, () => {
      assert.isFalse(parse({ ...required, ENABLE_MTLS: v }).enableMtls)
    })
  }

  it("anything else is one clear line", () => {
    assert.deepStrictEqual(problemLines({ ...required, ENABLE_MTLS: "on-ish" }), [
      "ENABLE_MTLS: expected true or false, got \"on-ish\""
    ])
  })
})

describe("parseControllerConfig: CORS", () => {
  it("is absent when no CORS variable is set", () => {
    assert.isFalse("cors" in parse(required))
  })

  it("is absent when the CORS variables are empty or only commas", () => {
    assert.isFalse("cors" in parse({ ...required, CORS_ALLOW_ORIGIN: "", CORS_ALLOW_METHODS: " , ", CORS_ALLOW_HEADERS: "" }))
  })

  it("is present with every list split, trimmed and without empty items", () => {
    const c = parse({
      ...required,
      CORS_ALLOW_ORIGIN: "*",
      CORS_ALLOW_METHODS: "GET, POST ,PUT,,DELETE",
      CORS_ALLOW_HEADERS: "Authorization, Content-Type , "
    })
    assert.deepStrictEqual(c.cors, {
      allowOrigin: ["*"],
      allowMethods: ["GET", "POST", "PUT", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type"]
    })
  })

  it("is present when only one variable is set; the others are empty lists", () => {
    assert.deepStrictEqual(parse({ ...required, CORS_ALLOW_ORIGIN: "https://a.example, https://b.example" }).cors, {
      allowOrigin: ["https://a.example", "https://b.example"],
      allowMethods: [],
      allowHeaders: []
    })
  })
})

describe("parseControllerConfig: BLACKLISTED_SERVICES", () => {
  it("is empty when unset", () => {
    assert.deepStrictEqual(parse(required).blacklistedServices, [])
  })

  it("is comma-separated, trimmed, with empty items dropped", () => {
    assert.deepStrictEqual(parse({ ...required, BLACKLISTED_SERVICES: " kubernetes.default ,, ,istio-ingressgateway.istio-system," }).blacklistedServices, [
      { name: "kubernetes", namespace: "default" },
      { name: "istio-ingressgateway", namespace: "istio-system" }
    ])
  })

  it("is empty when only separators are given", () => {
    assert.deepStrictEqual(parse({ ...required, BLACKLISTED_SERVICES: " , ,, " }).blacklistedServices, [])
  })

  for (const bad of ["kubernetes", ".default", "kubernetes.", "a.b.c", "Kubernetes.default", "kube rnetes.default", "kubernetes/default"]) {
    it(`rejects the malformed entry ${JSON.stringify(bad)}`, () => {
      assert.deepStrictEqual(problemLines({ ...required, BLACKLISTED_SERVICES: `kubernetes.default,${bad}` }), [
        `BLACKLISTED_SERVICES: expected comma-separated <service>.<namespace> entries such as kubernetes.default, got ${JSON.stringify(bad)}`
      ])
    })
  }

  it("puts every malformed entry on one line", () => {
    const lines = problemLines({ ...required, BLACKLISTED_SERVICES: "a, b.c, d" })
    assert.deepStrictEqual(lines, [
      "BLACKLISTED_SERVICES: expected comma-separated <service>.<namespace> entries such as kubernetes.default, got \"a\", \"d\""
    ])
  })
})

describe("parseControllerConfig: LOG_LEVEL", () => {
  it("is Info when unset", () => {
    assert.strictEqual(parse(required).logLevel, "Info")
  })

  const cases: ReadonlyArray<readonly [string, ControllerConfig["logLevel"]]> = [
    ["trace", "Trace"],
    ["debug", "Debug"],
    ["DEBUG", "Debug"],
    ["info", "Info"],
    ["warn", "Warn"],
    ["warning", "Warn"],
    ["Error", "Error"]
  ]
  for (const [raw, level] of cases) {
    it(`${JSON.stringify(raw)} is ${level}`, () => {
      assert.strictEqual(parse({ ...required, LOG_LEVEL: raw }).logLevel, level)
    })
  }

  it("an unknown level lists the allowed ones", () => {
    assert.deepStrictEqual(problemLines({ ...required, LOG_LEVEL: "verbose" }), [
      "LOG_LEVEL: expected one of trace, debug, info, warn, error, got \"verbose\""
    ])
  })
})

describe("splitList", () => {
  it("splits on commas, trims, drops empty items, keeps order", () => {
    assert.deepStrictEqual(splitList(" b , a,,c , "), ["b", "a", "c"])
  })

  it("an unset variable is the empty list", () => {
    assert.deepStrictEqual(splitList(undefined), [])
    assert.deepStrictEqual(splitList(""), [])
  })
})

describe("parseControllerConfig: CORS values Istio would refuse are refused at start", () => {
  it("a method that is not an HTTP method is one line naming it", () => {
    assert.deepStrictEqual(problemLines({ ...required, CORS_ALLOW_METHODS: "GET, FETCH,post" }), [
      "CORS_ALLOW_METHODS: expected comma-separated HTTP methods in capitals such as GET,POST,OPTIONS, got \"FETCH\", \"post\""
    ])
  })

  it("a header name with a space or a colon is one line naming it", () => {
    assert.deepStrictEqual(problemLines({ ...required, CORS_ALLOW_HEADERS: "Authorization, X Custom, a:b" }), [
      "CORS_ALLOW_HEADERS: expected comma-separated HTTP header names such as Authorization,Content-Type, got \"X Custom\", \"a:b\""
    ])
  })
})
