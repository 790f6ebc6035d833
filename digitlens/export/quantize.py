"""`digitlens quantize`: an int8 copy of an ONNX model, kept only if it earns its place.

Static QDQ quantisation (per-channel int8 weights, uint8 activations) calibrated on
training digits; the result is scored on the 10k test digits and its crops/s measured
against the float model, and both figures go into its model card.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from digitlens import conventions as C
from digitlens.export import data as mnist


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="float ONNX model to quantise")
    p.add_argument("--out", required=True, help="int8 ONNX file to write")
    p.add_argument("--data-dir", default=None, help=f"MNIST folder (default: ${mnist.ENV_VAR} or the user cache)")
    p.add_argument("--calibration", type=int, default=1000, help="training digits used for calibration (default: 1000)")


def quantize(
    model_path: Path, out: Path, train_images: np.ndarray, n: int = 1000, extra: np.ndarray | None = None
) -> None:
    """Static int8 quantisation calibrated on n training digits (and `extra` float crops, e.g. non-digits)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Calib(CalibrationDataReader):
        def __init__(self) -> None:
            x = train_images[:n, None].astype(np.float32) / 255
            if extra is not None and len(extra):
                x = np.concatenate([x, extra[:, None].astype(np.float32)])
                x = x[np.random.default_rng(0).permutation(len(x))]
            self.it = iter([{C.INPUT_NAME: x[i : i + 50]} for i in range(0, len(x), 50)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    pre = out.with_suffix(".pre.onnx")
    try:
        quant_pre_process(str(model_path), str(pre))
        quantize_static(
            str(pre),
            str(out),
            Calib(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            # 7-bit weights: uint8 x int8 products summed in pairs cannot saturate 16 bits, so
            # the int8 model gives the same answers on CPUs with VNNI and on AVX2-only CPUs
            # (without it, 0.9953 on one and 0.9935 on another for the same file)
            reduce_range=True,
        )
    finally:
        pre.unlink(missing_ok=True)


def crops_per_second(path: Path, x: np.ndarray) -> float:
    from digitlens.inference.recognizer import Recognizer

    rec = Recognizer(path, threads=1)
    rec.logits(x)
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < 1.0:
        rec.logits(x)
        n += len(x)
    return n / (time.perf_counter() - t)


def run(args: argparse.Namespace) -> int:
    from digitlens.export.evaluate import score
    from digitlens.inference.recognizer import Recognizer

    out = Path(args.out)
    train = mnist.load_split("train", args.data_dir)
    test = mnist.load_split("test", args.data_dir)
    eleven = Recognizer(args.model).not_digit_index is not None
    extra = held_out = None
    if eleven:  # calibrate on non-digits too, and check the rejection survives quantisation
        from digitlens.export import negatives

        extra, _ = negatives.generate(args.calibration // 4, 999, train.images[:5000], train.labels[:5000])
        held_out, _ = negatives.generate(5000, 12345, test.images, test.labels)
    quantize(Path(args.model), out, train.images, args.calibration, extra)
    acc_f = score(Recognizer(args.model), test.images, test.labels)["accuracy"]
    acc_q = score(Recognizer(out), test.images, test.labels)["accuracy"]
    rej = {}
    if held_out is not None:
        for name, path in (("float", Path(args.model)), ("int8", out)):
            rec = Recognizer(path)
            rej[name] = float(np.mean(rec.classify(held_out)[0] == rec.not_digit_index))
    x = test.images[:32].astype(np.float32) / 255
    speed_f, speed_q = crops_per_second(Path(args.model), x), crops_per_second(out, x)
    card = {
        "file": out.name,
        "quantised_from": Path(args.model).name,
        "command": f"digitlens quantize {args.model} --out {args.out} --calibration {args.calibration}",
        "method": "onnxruntime quantize_static, QDQ, per-channel 7-bit int8 weights (reduce_range), uint8 activations",
        "test_accuracy_onnxruntime": acc_q,
        "float_test_accuracy_onnxruntime": acc_f,
        **(
            {
                "nondigit_rejected": rej["int8"],
                "float_nondigit_rejected": rej["float"],
                "nondigit_set": "digitlens.export.negatives.generate(5000, seed 12345, MNIST test digits)",
                "calibration_nondigits": "generate(calibration // 4, seed 999, first 5000 MNIST train digits)",
            }
            if rej
            else {}
        ),
        "crops_per_second_batch32_1thread": round(speed_q),
        "float_crops_per_second_batch32_1thread": round(speed_f),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    keep = speed_q > speed_f and acc_q >= acc_f - 0.0005
    if rej:
        print(f"non-digits rejected: int8 {rej['int8']:.4f} vs float {rej['float']:.4f}")
    print(
        f"int8 {acc_q:.4f} vs float {acc_f:.4f}; {speed_q:,.0f} vs {speed_f:,.0f} crops/s -> "
        + ("worth shipping" if keep else "not worth shipping")
    )
    return 0
