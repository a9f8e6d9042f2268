#!/usr/bin/env bash
# `make fuzz`: the hypothesis "fuzz" profile, repeated with fresh seeds for FUZZ_SECONDS (default
# 600). The time budget lives here, never in a test; a failure stops the loop and prints the
# falsifying example (hypothesis also keeps it in .hypothesis/ to replay).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
end=$(( $(date +%s) + ${FUZZ_SECONDS:-600} ))
runs=0
while [ "$(date +%s)" -lt "$end" ]; do
  HYPOTHESIS_PROFILE=fuzz "$PY" -m pytest -q -x tests/test_properties.py --hypothesis-seed="$RANDOM$RANDOM"
  runs=$((runs + 1))
done
echo "fuzz: $runs runs of the fuzz profile, nothing found"
