#!/usr/bin/env bash
# Trains and exports every registered architecture besides the shipped digitnet, for the
# model table of benchmarks/run.py.  Usage: bash benchmarks/train_zoo.sh ../shared/data/mnist
set -euo pipefail
DATA="${1:-${DIGITLENS_DATA:-}}"
EPOCHS="${EPOCHS:-6}"
cd "$(dirname "$0")/.."
mkdir -p benchmarks/zoo runs/zoo
for arch in mlp cnn2 keras-cnn lenet5 twoscale; do
  cmd="digitlens train --arch $arch --epochs $EPOCHS --seed 0 --threads 2 --data-dir $DATA --out runs/zoo --no-plot"
  $cmd
  digitlens export "runs/zoo/$arch.pt" --arch "$arch" --out "benchmarks/zoo/$arch.onnx" --data-dir "$DATA" \
    --card "benchmarks/zoo/$arch.json" --train-command "$cmd"
done
