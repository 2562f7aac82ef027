#!/usr/bin/env bash
# The GPU speed check (issue 23): the CUDA tests, then one line per arm with images/s, peak
# memory and TFLOP/s (benchmarks/gpu_speed.py): mnist-dcgan, the R3GAN ResNet at 64 and 256 px,
# fp32 vs bf16, torch.compile off/on, one GPU. Budget: <= 8 minutes (tests <= 2.5, speed <= 5.5).
#
#   bash benchmarks/gpu.sh             # on a GPU machine, from a copy of the working tree
#   bash benchmarks/gpu.sh --dry-run   # anywhere (CPU): tiny settings, checks the script itself
#
# Installs nothing the machine already has: ganforge runs from src/ (PYTHONPATH, no pip install);
# the only dependency a plain CUDA+PyTorch image lacks is tomli_w (pure Python), taken from
# .whl/ when present (fetch it beforehand: python3 -m pip download --no-deps -d .whl tomli_w).
# Writes $OUT/gpu_speed.jsonl and $OUT/gpu_check.log ($OUT defaults to /tmp/ganforge-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/ganforge-gpu}
mkdir -p "$OUT"
DRY=""
if [[ "${1:-}" == "--dry-run" ]]; then DRY="--dry-run"; fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if ! "$PY" -c "import tomli_w" 2>/dev/null; then
  if compgen -G ".whl/tomli_w-*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/ganforge-site \
      .whl/tomli_w-*.whl || exit 2
    export PYTHONPATH="/tmp/ganforge-site:$PYTHONPATH"
  else
    echo "gpu.sh: tomli_w is missing and .whl/ has no wheel of it; see the header" >&2
    exit 2
  fi
fi

{
  echo "gpu.sh: $(date -u +%FT%TZ) $( [[ -n $DRY ]] && echo dry-run)"
  "$PY" -c "import torch; c = torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'device', torch.cuda.get_device_name(0) if c else 'cpu')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
  # The CUDA tests (skipped without a GPU) and the R3GAN pieces they rest on.
  timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/training/test_cuda.py \
    tests/test_relativistic_pair.py 2>&1 | tail -n 4
  echo "gpu.sh: tests rc=${PIPESTATUS[0]}"
  timeout 330 "$PY" benchmarks/gpu_speed.py $DRY --json "$OUT/gpu_speed.jsonl"
  echo "gpu.sh: speed rc=$?"
} 2>&1 | tee "$OUT/gpu_check.log"
