# Sourced by scripts/demo and scripts/test: make sure .venv exists and holds what
# pyproject.toml asks for (with the extras named in $SIMGATE_EXTRAS), reinstalling only
# when pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extras="${SIMGATE_EXTRAS:-emulator}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "simgate needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
    exit 2
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtual environment in $venv" >&2
    "$python" -m venv "$venv" >/dev/null
fi
stamp="$venv/.simgate-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing simgate[$extras] into $venv (pip's output: $venv/pip.log)" >&2
    # pip and setuptools talk a lot; a newcomer sees the project's steps, and pip's words
    # only when it fails.
    if ! { "$venv/bin/python" -m pip install --quiet --upgrade pip &&
        "$venv/bin/python" -m pip install --quiet -e "$root[$extras]"; } >"$venv/pip.log" 2>&1
    then
        tail -n 40 "$venv/pip.log" >&2
        echo "pip could not install simgate[$extras]; the whole log is $venv/pip.log" >&2
        exit 2
    fi
    echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
