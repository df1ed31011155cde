#!/usr/bin/env bash
# Assembles the runtime stage of deploy/container/Containerfile into directory OUT without a
# container engine: the base image's part (the dynamic loader and the libraries the binary
# links, from this Debian 12 host, as gcr.io/distroless/cc-debian12 carries them) and every
# `COPY --from=build /src/PATH DEST` of the runtime stage, with target/release/ replaced by
# BIN_DIR (a `cargo build` output directory). Files owned by root and not writable by others;
# the VOLUME directories are made and given to the stage's USER.
#   deploy/container/rootfs.sh OUT BIN_DIR
set -euo pipefail
out=$1 bin=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
file="$repo/deploy/container/Containerfile"
[ ! -e "$out" ] || { echo "error: $out exists" >&2; exit 1; }
mkdir -p "$out"
stage=""
user=""
while read -r word rest; do
  case "$word" in
    FROM) stage=${rest##* } ;;
  esac
  [ "$stage" = runtime ] || continue
  case "$word" in
    COPY)
      read -r from src dest <<<"$rest"
      [ "$from" = --from=build ] || { echo "error: unexpected COPY $rest" >&2; exit 1; }
      src=${src#/src/}
      case "$src" in
        target/release/*) src="$bin/${src#target/release/}" ;;
        *) src="$repo/$src" ;;
      esac
      mode=0644; [ -x "$src" ] && mode=0755
      install -D -m "$mode" "$src" "$out$dest"
      ;;
    USER) user=$rest ;;
    VOLUME)
      for v in $(tr -d '[]",' <<<"$rest"); do
        mkdir -p "$out$v"
        [ -z "$user" ] || chown "$user" "$out$v"
        chmod 0700 "$out$v"
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
