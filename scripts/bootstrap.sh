#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install
# flowimpute into it in editable mode with its test extra.
#
# torch is installed first, and on purpose: left to pip, `torch` resolves to
# the newest PyPI release, which on Linux is a multi-GB CUDA build. When a CPU
# wheel is found in a local wheel folder (FLOWIMPUTE_TORCH_WHEELS, default
# /opt/wheels) it is used; an environment that already has a torch build
# (for example a CUDA build a GPU user installed) is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FLOWIMPUTE_VENV:-.venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    echo "bootstrap: creating virtual environment in $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    wheel_dir=${FLOWIMPUTE_TORCH_WHEELS:-/opt/wheels}
    installed=0
    for wheel in "$wheel_dir"/torch-*+cpu-*.whl; do
        [ -e "$wheel" ] || continue
        if "${pip[@]}" install "$wheel" 2>/dev/null; then installed=1; break; fi
    done
    if [ "$installed" = 0 ]; then
        echo "bootstrap: no local CPU wheel of torch; installing torch from the package index" >&2
        "${pip[@]}" install torch
    fi
fi

# Reinstall the package only when its metadata changed since the last run.
stamp="$venv/.flowimpute-installed"
digest=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "bootstrap: installing flowimpute (editable) with its test extra" >&2
    "${pip[@]}" install -e ".[test]"
    echo "$digest" > "$stamp"
fi
