#!/usr/bin/env bash
# The one install step shared by `make`, the Dockerfile and CI: a virtualenv with briefbot in it.
#
#   VENV             the virtualenv (default .venv; created when missing)
#   EXTRAS           optional dependency groups of pyproject.toml, comma-separated (e.g. dev)
#   TORCH_VERSION    the torch release (default 2.13.0)
#   TORCH_INDEX_URL  where torch comes from: default PyTorch's CPU-only index, a ~190 MB wheel
#                    rather than PyPI's multi-GB CUDA build on Linux; a CUDA or ROCm index from
#                    pytorch.org for GPUs; empty for whatever index pip is configured with
#   INSTALL_ONLY     unset: everything. `deps`: torch and the dependencies pyproject.toml lists,
#                    which needs no source code (the Dockerfile's cached layer). `project`:
#                    briefbot itself, into a virtualenv that already has its dependencies.
set -euo pipefail
VENV="${VENV:-.venv}"
EXTRAS="${EXTRAS:-}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
INSTALL_ONLY="${INSTALL_ONLY:-}"
PY="$VENV/bin/python"

deps() {
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  # tomllib below, and briefbot itself, need 3.11.
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "install.sh: briefbot needs Python 3.11 or later; $VENV has $("$PY" --version)" >&2
    exit 1
  fi
  "$PY" -m pip install --quiet --upgrade pip

  # torch from its index together with the dependencies that index mirrors, as pytorch.org's
  # instructions do (a ROCm build needs pytorch-triton-rocm, which only pytorch.org has).
  # Two retries, not pip's five: where that index is unreachable and torch comes from a mirror
  # or find-links instead, five cost ~8 s for torch and each of its ten dependencies (78 s
  # measured; 6 s with two). A 30 s timeout bounds an index that drops packets, and is no
  # stricter than pip's default 15 s.
  if [ -n "$TORCH_INDEX_URL" ]; then
    "$PY" -m pip install --quiet --retries 2 --timeout 30 --index-url "$TORCH_INDEX_URL" \
      "torch==${TORCH_VERSION}"
  else
    "$PY" -m pip install --quiet "torch==${TORCH_VERSION}"
  fi

  # Everything else pyproject.toml asks for, read from it rather than from an install of the
  # project, so this step needs no source: the build backend's requirements too, which lets
  # `project` build offline. The installed torch satisfies its own requirement and stays.
  requirements="$(mktemp)"
  trap 'rm -f "$requirements"' EXIT
  "$PY" - "$EXTRAS" >"$requirements" <<'EOF'
import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    pyproject = tomllib.load(file)
wanted = list(pyproject["build-system"]["requires"]) + list(pyproject["project"]["dependencies"])
groups = pyproject["project"].get("optional-dependencies", {})
for extra in filter(None, (name.strip() for name in sys.argv[1].split(","))):
    if extra not in groups:
        sys.exit(f"install.sh: pyproject.toml has no optional dependencies called {extra!r}")
    wanted += groups[extra]
print("\n".join(wanted))
EOF
  "$PY" -m pip install --quiet -r "$requirements"
}

project() {
  if [ ! -x "$PY" ]; then
    echo "install.sh: no virtualenv at $VENV; run INSTALL_ONLY=deps first" >&2
    exit 1
  fi
  # The dependencies are in place (deps), so neither resolve them again nor fetch a build backend.
  "$PY" -m pip install --quiet --no-deps --no-build-isolation -e .
}

# Not `deps && project`: set -e is off inside a function called from an && list.
case "$INSTALL_ONLY" in
  "")
    deps
    project
    ;;
  deps) deps ;;
  project) project ;;
  *)
    echo "install.sh: INSTALL_ONLY is deps, project or unset, not '$INSTALL_ONLY'" >&2
    exit 2
    ;;
esac
