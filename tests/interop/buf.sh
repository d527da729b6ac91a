#!/usr/bin/env bash
# Buf checks of proto/: `buf lint` (rules in buf.yaml at the repository root) and
# `buf breaking` against the previous commit. buf comes from npm, pinned, installed
# into target/buf (gitignored). Exits non-zero on any lint or breaking finding.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BUF_VERSION=1.75.0
PREFIX=target/buf
BUF="$PREFIX/node_modules/.bin/buf"

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "buf.sh: npm is missing; installing Debian's npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "buf.sh: npm is required (to install @bufbuild/buf)" >&2
    exit 1
  fi
fi

if [ ! -x "$BUF" ] || [ "$("$BUF" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION"
fi
echo "buf $("$BUF" --version)"

echo "--> buf lint"
"$BUF" lint
echo "buf lint: no findings"

# Breaking changes against the previous commit's proto/ (its import root is proto/,
# as in buf.yaml, hence subdir=proto). The previous commit is HEAD~1: run from a
# working tree, that compares the uncommitted protos with the last commit but one;
# CI's clone of a submitted commit compares that commit with its parent.
if ! prev=$(git rev-parse --verify --quiet 'HEAD~1^{commit}'); then
  echo "buf breaking: skipped — there is no previous commit in this clone (first commit or shallow clone)"
  exit 0
fi
if ! git cat-file -e "$prev:proto" 2>/dev/null; then
  echo "buf breaking: skipped — the previous commit ${prev:0:12} has no proto/ directory"
  exit 0
fi
echo "--> buf breaking --against .git#ref=${prev:0:12},subdir=proto"
"$BUF" breaking --against ".git#ref=$prev,subdir=proto"
echo "buf breaking: no breaking change against ${prev:0:12}"
