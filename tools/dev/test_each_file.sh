#!/usr/bin/env bash
# Every test file alone, in a fresh interpreter (order independence: no file may rely on
# another having imported or registered something first). Developer use; docs/testing.md.
#
#   bash tools/dev/test_each_file.sh [PYTEST ARGS...]      # e.g. -m "not slow"
#
# Prints one line per file (exit status, seconds); exits 1 if any file fails alone.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
failed=()
for file in tests/test_*.py; do
    start=$(date +%s)
    $PY -m pytest -q -p no:cacheprovider "$file" "$@" > /tmp/rbonn_test_each_file.log 2>&1
    rc=$?
    # 5: nothing collected (every test of the file deselected by the arguments)
    if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then
        failed+=("$file")
        tail -n 15 /tmp/rbonn_test_each_file.log
    fi
    printf '%-45s rc %d  %4d s\n' "$file" "$rc" "$(( $(date +%s) - start ))"
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "failed alone: ${failed[*]}"
    exit 1
fi
echo "every test file passes alone"
