#!/usr/bin/env bash
# Opens an example in headless Neovim with editors/nvim's configuration and checks that
# the server's diagnostics and a hover arrive. Usage: editors/nvim/test/run.sh HPLANC
# where HPLANC is the hplanc binary (e.g. target/release/hplanc).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
bin="$(cd "$(dirname "${1:?usage: run.sh path/to/hplanc}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# the example with one misspelled name: `rubin_priced x 72` -> `rubin_pricd x 72`
sed 's/pool gpu = rubin_priced x 72/pool gpu = rubin_pricd x 72/' "$repo/examples/rubin_lpx_afd.hplan" > "$work/plan.hplan"
grep -q rubin_pricd "$work/plan.hplan"
cd "$work"
PATH="$bin:$PATH" XDG_CACHE_HOME="$work/cache" HPLAN_NVIM_DIR="$repo/editors/nvim" HPLAN_FILE="$work/plan.hplan" \
  timeout 120 nvim --headless -u NONE -i NONE -n -c "luafile $here/check.lua"
