#!/usr/bin/env bash
# What each ingredient of the "not a digit" model buys.  Short, small fine-tunes (2 epochs
# on the first 5,000 training digits, 3,000 generated non-digits, crops of 200 generated
# photos) from the same 10-class checkpoint, one ingredient at a time, then
# benchmarks/reject_eval.py on all of them beside the 10-class model they started from.
# Small on purpose: on a shared 2-core machine the full recipe takes most of an hour.
#   INIT=path/to/10-class/digitnet.pt bash benchmarks/reject_ablation.sh ../shared/data/mnist [threads]
set -euo pipefail
DATA="${1:?usage: reject_ablation.sh MNIST_DIR [threads]}"
THREADS="${2:-2}"
INIT="${INIT:?set INIT to the 10-class digitnet checkpoint the 11-class model was fine-tuned from}"
COMMON=(--arch digitnet --classes 11 --init "$INIT" --epochs 2 --lr 0.02 --seed 0 --threads "$THREADS"
        --limit 6000 --val-size 1000 --data-dir "$DATA" --no-plot)
declare -A VARIANTS=(
  [negatives]="--negatives 3000"
  [scenes]="--scenes 200"
  [both]="--negatives 3000 --scenes 200"
)
for name in negatives scenes both; do
  out="runs/ablation_$name"
  # shellcheck disable=SC2086
  python -m digitlens train "${COMMON[@]}" ${VARIANTS[$name]} --out "$out"
  python -m digitlens export "$out/digitnet.pt" --arch digitnet --out "$out/digitnet.onnx" --data-dir "$DATA"
done
PYTHONPATH=. python benchmarks/reject_eval.py --data-dir "$DATA" --json runs/ablation.json \
  --negatives 3000 --scenes 150 --model "${INIT%.pt}.onnx" --model runs/ablation_negatives/digitnet.onnx \
  --model runs/ablation_scenes/digitnet.onnx --model runs/ablation_both/digitnet.onnx
