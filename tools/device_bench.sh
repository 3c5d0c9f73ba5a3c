#!/usr/bin/env bash
# Scan and training benchmarks on a lent GPU machine (BENCHMARKS.md), in one call that ends within about
# 410 s (BUDGET_S 400 plus at most 10 s of kill grace): give the device run timeout_s 450.
#
#   bash tools/device_bench.sh wheels      # here, once: fill .whl/ with the cp312 wheels the image lacks
#   bash tools/device_bench.sh             # on the device machine, from the repo root (the device `run`)
#   PYTHON=.venv/bin/python SKIP_WHEELS=1 QUICK=1 OUT=/tmp/devout bash tools/device_bench.sh   # CPU check
#
# The device image has python3 3.12 with jax (CUDA), flax, optax, orbax, tensorstore, torch, scipy, rich, ...
# but not zarr, numcodecs, dask, rasterio, pyproj, shapely, affine and their small dependencies: those travel
# as wheels in .whl/ (git-ignored through .git/info/exclude; name ".whl" in the run's carry), installed with
# pip into /tmp/site. The repo itself is not installed: PYTHONPATH holds /tmp/site and the repo root.
# Each wheel is stored LZMA-compressed (pip reads any zip method; member bytes and RECORD hashes are the
# original's), which keeps .whl/ at about 43 MiB instead of 56 MiB.
#
# Parts (each under `timeout`, output tee'd into $OUT/<part>.log; a failed part does not stop the next):
#   install  pip install .whl/*.whl into /tmp/site (skipped with SKIP_WHEELS=1)
#   info     nvidia-smi, python and package versions, jax.devices(), the benchmarks' imports
#   scan     python -m tools.bench.scan: 2,500 px scene, --widths all, --reps 3 (PyTorch on CUDA, 8192 windows)
#   scanbig  the demo width only, 125-cell tiles, BIG_WORKERS (default 8) tiles in flight
#   gputest  tests/test_prep_device.py on the device (device preprocessing against the host's)
#   train    python -m tools.bench.train: paper and demo models (30 / 50 steps per rep on a GPU), 5 reps
# Knobs: PYTHON (default python3), OUT (default /tmp/out), SKIP_WHEELS=1, QUICK=1 (CPU-sized settings:
# --size 1200 --reps 1 --widths demo, --steps 3 --reps 1), BUDGET_S (default 400: the whole script's limit),
# PARTS (default "info scan scanbig train": a rerun can name fewer, e.g. PARTS=train; install always runs).
# Always exits 0 and ends with a summary of the parts that failed or timed out.

set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/out}
BUDGET_S=${BUDGET_S:-400}
WHEELS=(
  affine==3.0.1 click-plugins==1.1.1.2 cligj==0.7.2 dask==2026.8.0 donfig==0.8.1.post1 google-crc32c==1.9.0
  locket==1.0.0 numcodecs==0.16.6 partd==1.4.2 pyproj==3.7.2 rasterio==1.4.4 shapely==2.2.0 zarr==3.1.6
)

fetch_wheels() {
  # Download the cp312 manylinux x86_64 wheels (device README's command), then recompress them with LZMA.
  mkdir -p .whl
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl "${WHEELS[@]}" || return 1
  python3 - .whl/*.whl <<'EOF'
import base64, hashlib, os, sys, zipfile

for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as zin:
        if all(i.compress_type == zipfile.ZIP_LZMA for i in zin.infolist()):
            continue
        tmp = path + ".tmp"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_LZMA) as zout:
            for info in zin.infolist():
                new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                new.external_attr, new.compress_type = info.external_attr, zipfile.ZIP_LZMA
                zout.writestr(new, zin.read(info))
    with zipfile.ZipFile(tmp) as z:  # every member must still match the wheel's RECORD
        record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        for line in z.read(record).decode().splitlines():
            name, digest = line.split(",")[:2]
            if digest:
                algo, want = digest.split("=", 1)
                got = base64.urlsafe_b64encode(hashlib.new(algo, z.read(name)).digest()).rstrip(b"=")
                assert got.decode() == want, (path, name)
    os.replace(tmp, path)
    print(f"{os.path.basename(path)}: {os.path.getsize(path) / 2**20:.1f} MiB (LZMA)")
EOF
  du -ch .whl/*.whl | tail -1
}

if [ "${1:-}" = wheels ]; then
  fetch_wheels
  exit $?
fi

mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
FAILED=()
STARTED=$SECONDS

part() {
  # part NAME CAP_S COMMAND...: run COMMAND under timeout min(CAP_S, time left), tee'd into $OUT/NAME.log.
  local name=$1 cap=$2
  shift 2
  local left=$((BUDGET_S - (SECONDS - STARTED)))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -lt 10 ]; then
    echo "== $name: skipped, ${left} s of the ${BUDGET_S} s budget left" | tee "$OUT/$name.log"
    FAILED+=("$name (skipped: no time left)")
    return
  fi
  echo "== $name (timeout ${limit} s): $*" | tee "$OUT/$name.log"
  local began=$SECONDS rc
  set -o pipefail
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$OUT/$name.log"
  rc=$?
  set +o pipefail
  echo "== $name: exit $rc after $((SECONDS - began)) s" | tee -a "$OUT/$name.log"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    FAILED+=("$name (timed out after ${limit} s)")
  elif [ "$rc" -ne 0 ]; then
    FAILED+=("$name (exit $rc)")
  fi
}

if [ "${SKIP_WHEELS:-0}" = 1 ]; then
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  part install 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi

info() {
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  else
    echo "(no nvidia-smi)"
  fi
  "$PY" - <<'EOF'
import importlib
import importlib.metadata as md
import sys

print("python", sys.version.split()[0], sys.executable)


def version(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"


names = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "tensorstore", "numpy", "scipy", "torch",
         "zarr", "numcodecs", "dask", "rasterio", "pyproj", "shapely", "affine")
print(", ".join(f"{n} {version(n)}" for n in names))
import jax

print("jax backend", jax.default_backend(), jax.devices())
for module in ("scanner.pipeline.scan", "scanner.pipeline.sites", "scanner.sim.scene", "train.loop", "train.optim", "torch"):
    importlib.import_module(module)
import torch

print("torch cuda", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "")
EOF
}

if [ "${QUICK:-0}" = 1 ]; then
  SCAN_ARGS=(--size 1200 --reps 1 --widths demo)
  TRAIN_ARGS=(--steps 3 --reps 1 --warmup 1)
else
  SCAN_ARGS=(--size 2500 --reps 3 --widths all)
  TRAIN_ARGS=(--reps 5)
fi

export PY
export -f info
PARTS=" ${PARTS:-info scan scanbig train} "
[[ $PARTS == *" info "* ]] && part info 60 bash -c info
[[ $PARTS == *" scan "* ]] && part scan 170 "$PY" -m tools.bench.scan "${SCAN_ARGS[@]}"
# the GPU's own dense rate: bigger tiles (4 per scene), more tiles in flight, no per-window rows
[[ $PARTS == *" scanbig "* ]] && part scanbig 80 "$PY" -m tools.bench.scan "${SCAN_ARGS[@]}" --dense-only \
  --widths demo --tile-cells 125 --workers "${BIG_WORKERS:-8}"
# device preprocessing on this GPU: equal to the host's to float32 rounding, exact under tiling
[[ $PARTS == *" gputest "* ]] && part gputest 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_prep_device.py
[[ $PARTS == *" train "* ]] && part train 120 "$PY" -m tools.bench.train "${TRAIN_ARGS[@]}"

echo "== summary: $((SECONDS - STARTED)) s, logs in $OUT" | tee "$OUT/summary.log"
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "all parts passed" | tee -a "$OUT/summary.log"
else
  printf 'FAILED: %s\n' "${FAILED[@]}" | tee -a "$OUT/summary.log"
fi
exit 0
