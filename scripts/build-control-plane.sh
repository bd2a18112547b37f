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
