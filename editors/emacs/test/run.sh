#!/usr/bin/env bash
# Opens a plan that imports a file and misspells one of its names in batch-mode Emacs
# with editors/emacs's mode and eglot, and checks diagnostics, hover, go to definition
# into the stdlib and a rename across the import (check.el). Usage:
# editors/emacs/test/run.sh HPLANC, where HPLANC is the hplanc binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(cd "$(dirname "${1:?usage: run.sh path/to/hplanc}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/chips.hplan" <<'HPLAN'
use std::chips::b200

chip mine = b200 {
  price = 3 $/h
}
HPLAN
cat > "$work/plan.hplan" <<'HPLAN'
use "chips.hplan"
use std::links::nvlink5
use std::models::llama3_1_8b

workload w {
  input       = 1k tok
  output      = 128 tok
  concurrency = 1 ..= 8
}

cluster c {
  pool gpu   = mine x 8 over nvlink5
  pool spare = mien x 1 over nvlink5
}

plan p {
  model    = llama3_1_8b
  cluster  = c
  workload = w
}
HPLAN
cd "$work"
# a home of its own: no user configuration, and the stdlib's read-only copy in its cache
HOME="$work/home" XDG_CACHE_HOME="$work/cache" PATH="$bin:$PATH" HPLAN_WORK="$work" \
  timeout 120 emacs --batch -L "$here/.." -l "$here/check.el"
