#!/usr/bin/env bash
# SASRec ID-only on ML-100K (loo, hidden 64, max length 50, CE): --samples prefixes vs windows.
# Usage: bench/sasrec_samples.sh MODE SEED   (MODE = prefixes | windows); results in work/bench/.
# Threads: OMP_NUM_THREADS=1 and --threads 1, one run per core.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=$1; seed=$2
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
B=work/bench
S=.venv/bin/specrec
$S preprocess ml-100k --out $B/ml-100k >/dev/null
case $mode in
  prefixes) extra="--batch-size 256 --epochs ${EPOCHS:-20}" ;;
  windows)  extra="--batch-size 32 --epochs ${EPOCHS:-200}" ;;
esac
$S train --dataset $B/ml-100k --out $B/sasrec-$mode-s$seed --samples $mode --seed $seed \
  --threads 1 --device cpu $extra
$S evaluate $B/sasrec-$mode-s$seed --out $B/sasrec-$mode-s$seed-test --device cpu
