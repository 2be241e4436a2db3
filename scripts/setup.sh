#!/usr/bin/env bash
# Install unlearnlab (editable) and its test tools into the active Python environment.
# PyTorch: if no torch is importable, install the CPU build pinned for this project's
# machines (torch==2.13.0); an existing torch (CUDA or not) is never replaced.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
cd "$(dirname "$0")/.."
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "setup: no PyTorch found; installing torch==2.13.0 (CPU build)"
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
else
    echo "setup: using the installed PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
fi
"$PYTHON" -m pip install --quiet -e ".[test]"
