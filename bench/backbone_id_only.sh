#!/usr/bin/env bash
# ID-only BACKBONE on ML-100K (loo, dim 64, max length 50, CE, windows), seeds 0..2, then test metrics.
# Usage: [TAG=name] bench/backbone_id_only.sh BACKBONE [EXTRA TRAIN OPTIONS...]; results in
# work/bench/BACKBONE-TAG-sSEED (TAG defaults to "windows"; give one with extra options).
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=$1; shift
tag=${TAG:-windows}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
B=work/bench
S=.venv/bin/specrec
$S preprocess ml-100k --out $B/ml-100k >/dev/null
for seed in 0 1 2; do
  $S train --dataset $B/ml-100k --out $B/$backbone-$tag-s$seed --backbone $backbone \
    --samples windows --seed $seed --threads 1 --device cpu "$@"
  $S evaluate $B/$backbone-$tag-s$seed --out $B/$backbone-$tag-s$seed-test --device cpu
done
