#!/usr/bin/env bash
# GPU speed check of DyCAST and FocalCodec (#17), old code vs new, on a device machine: run
# scripts/device_prepare.sh here first, then this there with carry [".device"]. Figures go to
# $OUT (or .device/out). DEVICE (default cuda) and PAIRS (default 5) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 CODECBENCH_SHARED_DATA="$PWD/.device/data"
[ -d .device/old/pkg ] || { echo "no .device/old/pkg: run scripts/device_prepare.sh first (and carry .device)"; exit 2; }
site=/tmp/bench-site
pip="python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target $site"
python3 -c "import soundfile" 2>/dev/null || $pip .device/whl/*.whl
$pip --no-build-isolation .   # the project itself, without its dependencies (the image has them)
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
out=${OUT:-.device/out}
mkdir -p "$out"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$out/machine.txt"
status=0
for codec in dycast-bp3 focalcodec-50hz; do
  python3 benchmarks/dycast_speed.py --codec "$codec" --old .device/old/pkg --device "${DEVICE:-cuda}" \
    --pairs "${PAIRS:-5}" 2>&1 | grep -v "RANDOM weights" | tee "$out/$codec.txt" || status=1
done
exit $status
