#!/usr/bin/env bash
# Builds uplet's FerretDB v1.24.2 launcher (ferretdb/main.go) from the Go module
# proxy, once, into a cache outside the repo; prints the binary's path last.
# FerretDB's own cmd/ferretdb panics when built from the proxy (no version.txt),
# hence a small main on its embeddable package (see ../../README.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${UPLET_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/uplet}/ferretdb-v1.24.2"
bin="$cache/uplet-ferretdb"
stamp="$(cat "$here/ferretdb/main.go" "$here/ferretdb/go.mod" "$here/ferretdb/go.sum" | sha256sum | cut -c1-16)"

if [[ -x "$bin" && -f "$cache/source.sha" && "$(cat "$cache/source.sha")" == "$stamp" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-ferretdb: Go is not installed; install Go >= 1.22 or set MONGO_URL" >&2; exit 1; }

mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/ferretdb/main.go" "$here/ferretdb/go.mod" "$here/ferretdb/go.sum" "$work/"
cd "$work"
echo "build-ferretdb: [1/2] downloading modules (about 50 s on a fresh machine)..." >&2
go mod download -x 2>&1 | grep -E '^# get .*200 OK' | sed -E 's/^# get [^ ]*\/(.*): 200 OK.*/  fetched \1/' | awk 'NR % 10 == 1' >&2 || true
echo "build-ferretdb: [2/2] compiling..." >&2
CGO_ENABLED=0 go build -trimpath -o "$cache/uplet-ferretdb.tmp" . >&2
mv "$cache/uplet-ferretdb.tmp" "$bin"
echo "$stamp" > "$cache/source.sha"
echo "build-ferretdb: built $bin" >&2
echo "$bin"
