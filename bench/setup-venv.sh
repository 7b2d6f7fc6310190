#!/usr/bin/env bash
# The benchmark environment: the project's requirements plus what the benchmarks compare against.
# None of these go into requirements*.txt: the application does not use them.
#
# - python-threatexchange and faiss-cpu: bench/match.py and bench/hashing.py;
# - vpdq (Meta's reference vPDQ, the C++ `vpdq-hash-video` code): bench/vpdq_reference.py and
#   bench/video_hashing.py. PyPI has only its source, which builds against the system's FFmpeg
#   libraries (libavcodec, libavformat, libavutil, libswscale; found with pkg-config), not the
#   FFmpeg inside PyAV's wheels. When pkg-config cannot find them, this script installs Debian's
#   FFmpeg dev packages with apt-get first (as root, or through sudo). The reference's files in
#   tests/data/vpdq/reference-0.2.5/ were made with Debian 12's FFmpeg 5.1.
#
#     bash bench/setup-venv.sh        # creates .venv-bench beside .venv (ignored by git)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BENCH_VENV:-.venv-bench}

FFMPEG_PC="libavcodec libavformat libavutil libswscale"
if ! { command -v pkg-config >/dev/null && pkg-config --exists $FFMPEG_PC; }; then
    echo "FFmpeg dev libraries not found by pkg-config: installing Debian's (for vpdq's build)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    fi
    $SUDO apt-get update
    $SUDO apt-get install -y libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
        libavdevice-dev libavfilter-dev pkg-config
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# The venv ignores itself, whatever the project's .gitignore says.
printf '*\n' > "$VENV/.gitignore"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt \
    threatexchange==1.2.17 faiss-cpu==1.15.1 vpdq==0.2.5
"$VENV/bin/python" -c "import faiss, threatexchange.signal_type.pdq.pdq_index, vpdq"
echo "$VENV ready: $VENV/bin/python bench/match.py; $VENV/bin/python bench/hashing.py;"
echo "    $VENV/bin/python bench/vpdq_reference.py; $VENV/bin/python bench/video_hashing.py"
