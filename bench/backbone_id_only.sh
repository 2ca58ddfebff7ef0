#!/usr/bin/env bash
# ID-only BACKBONE on ML-100K (loo, dim 64, max length 50, CE, windows), seeds 0..2, then test metrics.
# Usage: bench/backbone_id_only.sh BACKBONE [EXTRA TRAIN OPTIONS...]; results in work/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=$1; shift
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
B=work/bench
S=.venv/bin/specrec
$S preprocess ml-100k --out $B/ml-100k >/dev/null
for seed in 0 1 2; do
  $S train --dataset $B/ml-100k --out $B/$backbone-windows-s$seed --backbone $backbone \
    --samples windows --seed $seed --threads 1 --device cpu "$@"
  $S evaluate $B/$backbone-windows-s$seed --out $B/$backbone-windows-s$seed-test --device cpu
done
