#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# run-fuzz.sh TARGET SEEDS: runs a libFuzzer target for a short while on a
# scratch corpus (new inputs go there, never into the source tree) plus
# its seed corpus. Crash artifacts land in the working directory (the
# build dir).
set -eu

target=$1
seeds=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

"$target" -max_total_time="${PP_FUZZ_SECONDS:-20}" -timeout=5 "$work" "$seeds"
