#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, the pki tool that makes
# their certificates) and a matching kubectl from Go modules into .bin/.
# Rebuilds only when a binary is missing or its module (tools/*/go.mod, go.sum, *.go) or this script changed.
# Never downloads prebuilt binaries: everything comes from the Go module proxy and this machine's Go.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin="$root/.bin"
mkdir -p "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -trimpath"

# go mod tidy may move the require into a block: accept both `require k8s.io/kubernetes vX` and `\tk8s.io/kubernetes vX`.
kube_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit} $1=="require" && $2=="k8s.io/kubernetes"{print $3; exit}' tools/kube-apiserver/go.mod)
[[ "$kube_version" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "build-control-plane: no k8s.io/kubernetes version in tools/kube-apiserver/go.mod" >&2; exit 1; }
kube_minor=$(echo "$kube_version" | cut -d. -f2)

# build <name> <module dir> <package> [ldflags]
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
  local stamp="$bin/.$name.stamp"
  local want
  # A module without dependencies has no go.sum; a tool module of our own has its sources beside go.mod.
  want=$(cat "$dir"/go.mod $(ls "$dir"/go.sum "$dir"/*.go 2>/dev/null) "$0" | sha256sum | cut -d' ' -f1)
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "build-control-plane: $name is up to date ($(du -h "$bin/$name" | cut -f1))"
    return
  fi
  echo "build-control-plane: building $name from $pkg ..."
  local start=$SECONDS
  (cd "$dir" && go build -ldflags "-s -w $ldflags" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$want" > "$stamp"
  echo "build-control-plane: built $name in $((SECONDS - start))s ($(du -h "$bin/$name" | cut -f1))"
}

build pki tools/pki .
build etcd tools/etcd go.etcd.io/etcd/server/v3
version_flags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kube_minor -X k8s.io/component-base/version.gitTreeState=clean"
build kube-apiserver tools/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$version_flags"
# Garbage collection (ownerReferences), namespace deletion and default ServiceAccounts are its controllers'.
build kube-controller-manager tools/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager "$version_flags"
# kubectl of the same version (the deploy tests use its kustomize, server-side apply and auth can-i):
# a machine's own kubectl may be missing or outside the supported version skew.
build kubectl tools/kube-apiserver k8s.io/kubernetes/cmd/kubectl "$version_flags"

# =============================================================================================
# Istio, pinned in tools/istio/go.mod: the real CRDs of the kinds the controller writes (from the
# istio.io/api module) and istioctl (from istio.io/istio), whose `analyze` runs Istio's own
# validation and analyzers on what the controller writes. Same stamp rule as above.
istio_dir=tools/istio
istio_kinds="virtualservices.networking.istio.io gateways.networking.istio.io requestauthentications.security.istio.io authorizationpolicies.security.istio.io peerauthentications.security.istio.io"

# "<version> <dir>" of a module as the tool module resolves it, fetched from the Go module proxy if not cached.
istio_module() {
  (cd "$istio_dir" && go mod download -json "$1") | awk -F'"' '$2=="Version"{v=$4} $2=="Dir"{d=$4} END{print v, d}'
}

istio_crds() {
  local out="$bin/istio-crds.yaml" stamp="$bin/.istio-crds.stamp" want api
  want=$(cat "$istio_dir/go.mod" "$istio_dir/go.sum" "$0" | sha256sum | cut -d' ' -f1)
  if [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "build-control-plane: istio-crds.yaml is up to date"
    return
  fi
  api=$(istio_module istio.io/api)
  local api_version=${api%% *} api_dir=${api#* }
  local src="$api_dir/kubernetes/customresourcedefinitions.gen.yaml"
  [[ -f "$src" ]] || { echo "build-control-plane: $src not found" >&2; exit 1; }
  # The file is one CRD per document, separated by `---`; metadata.name is the only `  name:` at two spaces.
  {
    echo "# Istio CRDs from istio.io/api $api_version (kubernetes/customresourcedefinitions.gen.yaml), written by scripts/build-control-plane.sh"
    awk -v want="$istio_kinds" '
      BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
      function flush() { if (name in keep) { printf "---\n%s", doc; found[name] = 1 } doc = ""; name = "" }
      /^---$/ { flush(); next }
      /^#/ && doc == "" { next }
      { doc = doc $0 "\n" }
      /^  name: / && name == "" { name = $2 }
      END { flush(); for (k in keep) if (!(k in found)) { print "build-control-plane: no CRD " k " in istio.io/api" > "/dev/stderr"; exit 1 } }
    ' "$src"
  } > "$out.tmp"
  mv "$out.tmp" "$out"
  echo "$want" > "$stamp"
  echo "build-control-plane: wrote istio-crds.yaml from istio.io/api $api_version ($(grep -c '^kind: CustomResourceDefinition' "$out") CRDs)"
}
istio_crds

# istioctl checks what the controller writes in the tests; running the controller does not need
# it, and it is the biggest build (istio.io/istio): `--no-istioctl` skips it (npm start, bench).
if [[ "${1:-}" != "--no-istioctl" ]]; then
  # istioctl's version, as Istio's own Makefile stamps a build from source (<VERSION file>-dev, the
  # commit); it also picks the istio.io docs version in analyze's messages. The defaults say "unknown".
  istio_src=$(istio_module istio.io/istio)
  istio_flags="-X istio.io/istio/pkg/version.buildVersion=$(cat "${istio_src#* }/VERSION")-dev -X istio.io/istio/pkg/version.buildGitRevision=${istio_src%% *} -X istio.io/istio/pkg/version.buildStatus=Clean"
  build istioctl "$istio_dir" istio.io/istio/istioctl/cmd/istioctl "$istio_flags"
fi
