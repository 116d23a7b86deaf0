#!/usr/bin/env bash
# The GPU check of issue 10, on a machine with CUDA, CuPy and PyTorch CUDA (no package registry
# needed): (a) the whole test suite with CUDA as the default device, pass/fail counts;
# (b) training-step times against PyTorch CUDA (benchmarks/gpu_steps.py). Under 10 minutes:
#   bash benchmarks/gpu_check.sh            # from the repository root
# SUITE_TIMEOUT / STEPS_TIMEOUT (seconds) bound each part; the script always prints both reports.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
SUITE_TIMEOUT=${SUITE_TIMEOUT:-360}
STEPS_TIMEOUT=${STEPS_TIMEOUT:-200}
PY=${PYTHON:-python}

echo "== environment"
$PY - <<'PY'
import sys
try:
    import cupy
    print("cupy", cupy.__version__, "devices:", cupy.cuda.runtime.getDeviceCount())
except Exception as e:
    print("no usable cupy:", e); sys.exit(0)
import chainrule as cr
print("chainrule cuda available:", cr.cuda.is_available())
PY

echo "== (a) test suite with CHAINRULE_TEST_DEVICE=cuda (timeout ${SUITE_TIMEOUT}s)"
LOG=$(mktemp)
CHAINRULE_TEST_DEVICE=cuda timeout -k 10 "$SUITE_TIMEOUT" $PY -m pytest tests -q -p no:cacheprovider \
    --tb=no -rN -v >"$LOG" 2>&1
rc=$?
grep -E " (FAILED|ERROR)( |$)" "$LOG" | head -40
tail -n 2 "$LOG"
[ $rc -eq 124 ] && echo "suite: TIMED OUT after ${SUITE_TIMEOUT}s; the counts below are partial"
# counted per test line (-v), so a timed-out run still reports what it ran
echo "suite counts: passed $(grep -c ' PASSED' "$LOG"), failed $(grep -c ' FAILED' "$LOG")," \
     "errors $(grep -c ' ERROR' "$LOG"), skipped $(grep -c ' SKIPPED' "$LOG") (pytest exit $rc)"

echo "== (b) training steps, chainrule/PyTorch on the same GPU (timeout ${STEPS_TIMEOUT}s)"
timeout -k 10 "$STEPS_TIMEOUT" $PY benchmarks/gpu_steps.py
src=$?
[ $src -eq 124 ] && echo "steps: TIMED OUT after ${STEPS_TIMEOUT}s"
echo "steps exit $src"
exit 0
