#!/usr/bin/env bash
# Builds the spool command for every platform Spool is tested on into
# dist/, named spool-VERSION-OS-ARCH, with a SHA256SUMS file.
#
#   scripts/release.sh            # version from `git describe`
#   VERSION=v1.2.3 scripts/release.sh
#
# VERSION is `git describe --tags --always --dirty`: a tag when HEAD is
# tagged, else the nearest tag plus commits and hash, "-dirty" when the
# tree has uncommitted changes, so a binary never claims to be code it is
# not. It is stamped into the binary (-X main.version) and every
# `spool bench` report prints it. -trimpath keeps the builder's paths out
# of the binaries, so two builds of one commit are byte for byte the same.
# CGO is off: the binaries are static and cross-compile without a C
# toolchain.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
DIST=dist
# OS/ARCH[/GOARM]: the 64-bit servers and laptops, and 32-bit ARMv7
# boards (Raspberry Pi 2/3 with a 32-bit OS), which CI tests under qemu.
TARGETS=(linux/amd64 linux/arm64 linux/arm/7 darwin/arm64)

mkdir -p "$DIST"
built=()
for target in "${TARGETS[@]}"; do
	IFS=/ read -r goos goarch goarm <<<"$target"
	name=spool-$VERSION-$goos-$goarch${goarm:+v$goarm}
	echo "building $DIST/$name"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X main.version=$VERSION" \
		-o "$DIST/$name" ./cmd/spool
	built+=("$name")
done

(cd "$DIST" && sha256sum "${built[@]}" >"SHA256SUMS-$VERSION")
echo "wrote ${#built[@]} binaries and SHA256SUMS-$VERSION to $DIST/"
