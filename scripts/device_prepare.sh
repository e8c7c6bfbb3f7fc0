#!/usr/bin/env bash
# Prepare .device/ for the GPU speed check on a machine without the git history or the network
# (the project's device machines: Python 3.12 with CUDA PyTorch): the old code exported from git,
# the wheels its image lacks, and the LibriSpeech clips of ../shared/data. Then, on that machine:
#   bash scripts/device_dycast_speed.sh        # carry: [".device"]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD_REV=${OLD_REV:-17d8d74}
grep -qx '/.device/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.device/' >> .git/info/exclude; }
rm -rf .device && mkdir -p .device/whl .device/data/clips
python3 benchmarks/_old_code.py "$OLD_REV" .device/old >/dev/null
rm -rf .device/old/tree .device/old/tree.tar
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .device/whl soundfile==0.14.0 cffi==2.1.1 pycparser==3.12
data=${CODECBENCH_SHARED_DATA:-../shared/data}
cp "$data/manifest.csv" .device/data/
cp -r "$data/clips/librispeech" .device/data/clips/
du -sh .device
