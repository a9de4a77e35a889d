#!/usr/bin/env bash
# Writes a random API token (the bearer token of POST /api/v1/performance/benchmark and of
# creating silences) to FILE, readable by this user only, unless FILE already holds one.
# Usage: deploy/local/api-token.sh FILE          (prints nothing: the token stays in the file)
set -euo pipefail
file=${1:?usage: api-token.sh FILE}
if [ -s "$file" ]; then
  exit 0
fi
umask 077
mkdir -p "$(dirname "$file")"
# mktemp creates a new file (O_EXCL, mode 0600) under a random name: a symlink planted at a
# fixed temporary name cannot redirect the write.
tmp=$(mktemp "$file.XXXXXXXX")
trap 'rm -f "$tmp"' EXIT
head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$tmp"
mv "$tmp" "$file"
trap - EXIT
