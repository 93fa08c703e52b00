#!/usr/bin/env bash
# The one install step shared by `make`, the Dockerfile and CI: a virtualenv with briefbot in it.
# torch is installed first and pinned, so pip takes the CPU build rather than a multi-GB CUDA one.
set -euo pipefail
VENV="${VENV:-.venv}"
EXTRAS="${EXTRAS:-}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "torch==${TORCH_VERSION}"
"$VENV/bin/python" -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
