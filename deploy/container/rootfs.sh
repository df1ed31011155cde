#!/usr/bin/env bash
# Assembles the runtime stage of deploy/container/Containerfile into directory OUT without a
# container engine: the base image's part (the dynamic loader and the libraries the binary
# links, from this Debian 12 host, as gcr.io/distroless/cc-debian12 carries them) and every
# `COPY --from=build /src/PATH DEST` of the runtime stage, with target/release/ replaced by
# BIN_DIR (a `cargo build` output directory); `--chown` as written. Files owned by root and not
# writable by others unless a COPY says otherwise; a VOLUME missing from the stage is made
# root-owned, as a container engine makes it (so the image must bring its own data directory).
#   deploy/container/rootfs.sh OUT BIN_DIR
set -euo pipefail
out=$1 bin=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
file="$repo/deploy/container/Containerfile"
[ ! -e "$out" ] || { echo "error: $out exists" >&2; exit 1; }
mkdir -p "$out"
stage=""
while read -r word rest; do
  case "$word" in
    FROM) stage=${rest##* } ;;
  esac
  [ "$stage" = runtime ] || continue
  case "$word" in
    COPY)
      read -r -a parts <<<"$rest"
      chown_to=""
      while [[ "${parts[0]}" == --* ]]; do
        case "${parts[0]}" in
          --from=build) ;;
          --chown=*) chown_to=${parts[0]#--chown=} ;;
          *) echo "error: unexpected COPY $rest" >&2; exit 1 ;;
        esac
        parts=("${parts[@]:1}")
      done
      src=${parts[0]} dest=${parts[1]}
      case "$src" in
        /out/*) # a directory the build stage made (empty): made here the same way
          install -d -m 0755 "$out$dest" ;;
        /src/target/release/*)
          install -D -m 0755 "$bin/${src#/src/target/release/}" "$out$dest" ;;
        /src/*)
          src="$repo/${src#/src/}"
          mode=0644; [ -x "$src" ] && mode=0755
          install -D -m "$mode" "$src" "$out$dest" ;;
        *) echo "error: unexpected COPY source $src" >&2; exit 1 ;;
      esac
      [ -z "$chown_to" ] || chown -R "$chown_to" "$out$dest"
      ;;
    VOLUME)
      # As the engine does: a volume path missing from the image is made root-owned.
      for v in $(tr -d '[]",' <<<"$rest"); do
        [ -d "$out$v" ] || install -d -m 0755 "$out$v"
      done
      ;;
  esac
done <"$file"
# The base image's part: what the binaries need to run (ldd names it).
for f in "$out"/usr/local/bin/*; do
  ldd "$f" | grep -o '/[^ ]*' | while read -r lib; do
    install -D -m 0755 "$lib" "$out$lib"
  done
done
mkdir -p "$out/tmp" && chmod 1777 "$out/tmp"
