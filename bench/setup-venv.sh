#!/usr/bin/env bash
# The benchmark environment: the project's requirements plus python-threatexchange and faiss-cpu,
# which bench/match.py and bench/hashing.py compare against. They never go into requirements*.txt:
# the application does not use them.
#
#     bash bench/setup-venv.sh        # creates .venv-bench beside .venv (ignored by git)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BENCH_VENV:-.venv-bench}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# The venv ignores itself, whatever the project's .gitignore says.
printf '*\n' > "$VENV/.gitignore"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt \
    threatexchange==1.2.17 faiss-cpu==1.15.1
"$VENV/bin/python" -c "import faiss, threatexchange.signal_type.pdq.pdq_index"
echo "$VENV ready: $VENV/bin/python bench/match.py; $VENV/bin/python bench/hashing.py"
