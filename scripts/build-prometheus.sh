#!/usr/bin/env bash
# Builds what the monitoring tests (test/monitoring, test/cluster/Monitoring*.test.ts) need into .bin/:
#   - promtool and prometheus, from the Go module github.com/prometheus/prometheus (tools/prometheus);
#   - prometheus-operator-crds.yaml: the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs,
#     made by controller-gen from the operator's API module (tools/prometheus-operator), as the
#     operator makes the CRDs it releases.
# Each is rebuilt only when it is missing or what it is made from changed: its tool module's go.mod
# and go.sum, its build flags and the Go version (not this script's text: a comment here rebuilds
# nothing). Never downloads prebuilt binaries: everything comes from the Go module proxy and this
# machine's Go. Kept apart from scripts/build-control-plane.sh, whose text stamps the control plane.
#
#   scripts/build-prometheus.sh                       all three
#   scripts/build-prometheus.sh promtool crds         what `npm test` needs (test/cluster/globalSetup.ts)
#   scripts/build-prometheus.sh prometheus            the real Prometheus (test/soak/PrometheusScrape.test.ts)
set -euo pipefail
wanted=" ${*:-promtool prometheus crds} "
for w in $wanted; do
  [[ " promtool prometheus crds " == *" $w "* ]] || { echo "build-prometheus: unknown part '$w' (promtool, prometheus, crds)" >&2; exit 2; }
done
cd "$(dirname "$0")/.."
root=$PWD
bin="$root/.bin"
mkdir -p "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -trimpath"

# Two builds of the same binary at once (a test file and the cluster setup) would waste minutes
# and race on the result: one at a time, the second finds the first's work done.
exec 9>"$bin/.build-prometheus.lock"
flock 9

go_version=$(go env GOVERSION)

# stamp_of <module dir> <what else decides the output>
stamp_of() {
  { cat "$1/go.mod" "$1/go.sum"; echo "$go_version $2"; } | sha256sum | cut -d' ' -f1
}

# up_to_date <file> <stamp>
up_to_date() {
  [[ -e "$bin/$1" && -f "$bin/.$1.stamp" && "$(cat "$bin/.$1.stamp")" == "$2" ]]
}

# build <name> <module dir> <package> <go build flags...>
build() {
  local name=$1 dir=$2 pkg=$3
  shift 3
  local want
  want=$(stamp_of "$dir" "$pkg $*")
  if up_to_date "$name" "$want"; then
    echo "build-prometheus: $name is up to date ($(du -h "$bin/$name" | cut -f1))"
    return
  fi
  echo "build-prometheus: building $name from $pkg ..."
  local start=$SECONDS
  (cd "$dir" && go build "$@" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$want" > "$bin/.$name.stamp"
  echo "build-prometheus: built $name in $((SECONDS - start))s ($(du -h "$bin/$name" | cut -f1))"
}

# ---- promtool and prometheus ------------------------------------------------------------------
dir=tools/prometheus
version=$(awk '$1=="require" && $2=="github.com/prometheus/prometheus"{print $3; exit} $1=="github.com/prometheus/prometheus"{print $2; exit}' "$dir/go.mod")
[[ "$version" =~ ^v0\.([0-9])([0-9][0-9])\.([0-9]+)$ ]] || { echo "build-prometheus: no github.com/prometheus/prometheus v0.3XX.Y in $dir/go.mod" >&2; exit 1; }
# Module v0.316.0 is Prometheus 3.16.0: `--version` says so, as a release build's does.
release="${BASH_REMATCH[1]}.$((10#${BASH_REMATCH[2]})).${BASH_REMATCH[3]}"
ldflags="-s -w -X github.com/prometheus/common/version.Version=$release -X github.com/prometheus/common/version.Revision=$version -X github.com/prometheus/common/version.Branch=module"
# remove_all_sd: no service-discovery plugins (the tests scrape static targets), which also keeps
# the cloud SDKs out of the build; the web UI's assets stay out too (no builtinassets tag): the
# HTTP API, which the tests use, does not need them.
[[ "$wanted" == *" promtool "* ]] && build promtool "$dir" github.com/prometheus/prometheus/cmd/promtool -tags remove_all_sd -ldflags "$ldflags"
[[ "$wanted" == *" prometheus "* ]] && build prometheus "$dir" github.com/prometheus/prometheus/cmd/prometheus -tags remove_all_sd -ldflags "$ldflags"
[[ "$wanted" == *" crds "* ]] || exit 0

# ---- the Prometheus Operator's CRDs ------------------------------------------------------------
dir=tools/prometheus-operator
build controller-gen "$dir" sigs.k8s.io/controller-tools/cmd/controller-gen -ldflags "-s -w"

crds=prometheus-operator-crds.yaml
kinds="servicemonitors prometheusrules"
api_pkg=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1
want=$(stamp_of "$dir" "$kinds $(cat "$bin/.controller-gen.stamp")")
if up_to_date "$crds" "$want"; then
  echo "build-prometheus: $crds is up to date"
else
  api_version=$(awk '$1=="require" && $2=="github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring"{print $3; exit} $1=="github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring"{print $2; exit}' "$dir/go.mod")
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  # controller-gen reads the types' +kubebuilder markers: the operator's own source of its CRDs.
  (cd "$dir" && "$bin/controller-gen" crd:crdVersions=v1 paths="$api_pkg" output:crd:dir="$out")
  {
    echo "# The Prometheus Operator's CRDs ($kinds) from its API module $api_version, made by"
    echo "# controller-gen; written by scripts/build-prometheus.sh."
    for kind in $kinds; do
      [[ -f "$out/monitoring.coreos.com_$kind.yaml" ]] || { echo "build-prometheus: controller-gen made no $kind CRD" >&2; exit 1; }
      cat "$out/monitoring.coreos.com_$kind.yaml"
    done
  } > "$bin/$crds.tmp"
  mv "$bin/$crds.tmp" "$bin/$crds"
  echo "$want" > "$bin/.$crds.stamp"
  echo "build-prometheus: wrote $crds from $api_pkg $api_version"
fi
