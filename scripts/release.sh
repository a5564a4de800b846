#!/usr/bin/env bash
# Builds exhunt's release binaries: static (CGO_ENABLED=0), reproducible
# (-trimpath, commit time as build date), stamped with the version, for
# linux/amd64, linux/arm64, windows/amd64 and darwin/arm64, plus SHA256SUMS.
#
#   scripts/release.sh [VERSION]      default: git describe --tags --always --dirty
#   OUT=dir scripts/release.sh        default: dist/
set -euo pipefail

cd "$(dirname "$0")/.."
version=${1:-${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
date=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
out=${OUT:-dist}
targets=(linux/amd64 linux/arm64 windows/amd64 darwin/arm64)

pkg=github.com/exhunt/exhunt/internal/cli
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date"

rm -rf "$out"
mkdir -p "$out"
for t in "${targets[@]}"; do
	goos=${t%/*} goarch=${t#*/}
	name="exhunt_${version}_${goos}_${goarch}"
	[[ $goos == windows ]] && name+=.exe
	echo "building $name"
	# -buildvcs=false: the version is stamped above; a release built from
	# an exported tree must not depend on .git being present.
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false \
		-ldflags "$ldflags" -o "$out/$name" ./cmd/exhunt
done

cd "$out"
if command -v sha256sum >/dev/null; then
	sha256sum exhunt_* > SHA256SUMS
else
	shasum -a 256 exhunt_* > SHA256SUMS
fi
cat SHA256SUMS
