"""`digitlens export`: checkpoint -> ONNX, with the contract checked before anything ships.

The exported graph is the inference contract (see digitlens.conventions): input `image`
float32 [batch,1,28,28], output `logits` [batch,classes], dynamic batch; the class list
is in the metadata (`classes`: the ten digits, then "not_digit" for an 11-class model).
When training fitted a softmax temperature (metrics `temperature`), 1/T is folded into
the graph, so the shipped logits are calibrated.  Parity against torch
on real test digits is part of the export, not an afterthought: a file that fails it is
never left under the requested name.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from digitlens import conventions as C
from digitlens.export import data as mnist
from digitlens.export.models import REGISTRY, build, count_macs, count_parameters

PARITY_SAMPLES = 1000
PARITY_ATOL = 1e-4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="state dict written by `digitlens train` (.pt)")
    p.add_argument("--arch", default="digitnet", choices=sorted(REGISTRY), help="architecture (default: digitnet)")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument(
        "--data-dir",
        default=None,
        help=f"MNIST folder for the parity check (default: ${mnist.ENV_VAR} or the user cache)",
    )
    p.add_argument(
        "--metrics",
        default=None,
        help="metrics JSON from training, copied into the metadata (default: beside the checkpoint)",
    )
    p.add_argument("--card", default=None, help="also write a model card JSON here (default: none)")
    p.add_argument(
        "--train-command", default=None, help="the training command, recorded in the model card (default: none)"
    )
    p.add_argument("--note", default=None, help="a remark recorded in the model card (default: none)")


class ParityError(RuntimeError):
    pass


class Tempered(torch.nn.Module):
    """A classifier whose logits are divided by a fitted temperature (calibration folded into the graph)."""

    def __init__(self, model: torch.nn.Module, temperature: float) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

    def forward(self, x):
        return self.model(x) * self.inv_t


def load_model(arch: str, checkpoint: str | os.PathLike) -> torch.nn.Module:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    head = [v for k, v in state.items() if k.endswith(".weight") or k.endswith(".bias")][-1]
    model = build(arch, num_classes=int(head.shape[0]))  # 10 or 11 outputs, read off the last layer
    model.load_state_dict(state)
    return model.eval()


def export_onnx(
    model: torch.nn.Module,
    path: Path,
    metadata: dict[str, str],
    output_name: str = C.OUTPUT_NAME,
    doc: str = "digitlens handwritten digit classifier",
) -> None:
    """Write `model` as ONNX with the named input/output and a dynamic batch axis, checked."""
    import onnx

    dummy = torch.zeros(2, 1, C.IMAGE_SIZE, C.IMAGE_SIZE)
    arg = next(iter(inspect.signature(model.forward).parameters))
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=[C.INPUT_NAME],
        output_names=[output_name],
        dynamic_shapes={arg: {0: torch.export.Dim("batch")}},
        opset_version=C.OPSET,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = doc
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def parity(model: torch.nn.Module, onnx_path: Path, images: np.ndarray) -> dict:
    """Compare torch and onnxruntime logits on the same images."""
    import onnxruntime as ort

    x = images.astype(np.float32)[:, None] / 255.0
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run([C.OUTPUT_NAME], {C.INPUT_NAME: x})[0]
    return {
        "samples": len(x),
        "max_abs_logit_diff": float(np.abs(ref - got).max()),
        "argmax_agree": int((ref.argmax(1) == got.argmax(1)).sum()),
    }


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(args: argparse.Namespace) -> dict:
    model = load_model(args.arch, args.checkpoint)
    ckpt = Path(args.checkpoint)
    metrics_path = Path(args.metrics) if args.metrics else ckpt.with_name(f"{args.arch}.metrics.json")
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    n_out = int(model(torch.zeros(1, 1, C.IMAGE_SIZE, C.IMAGE_SIZE)).shape[1])
    classes = list(C.DIGIT_CLASSES) + ([C.NOT_DIGIT] if n_out == 11 else [])
    temperature = float(metrics.get("temperature") or 1.0)
    if temperature != 1.0:
        model = Tempered(model, temperature).eval()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    test = mnist.load_split("test", args.data_dir)
    metadata = {
        "architecture": args.arch,
        "input_convention": C.INPUT_CONVENTION,
        "input_name": C.INPUT_NAME,
        "output_name": C.OUTPUT_NAME,
        "opset": str(C.OPSET),
        "parameters": str(count_parameters(model)),
        "macs_per_crop": str(count_macs(model)),
        "metrics": json.dumps(
            {k: metrics[k] for k in ("val_accuracy", "test_accuracy_torch", "best_epoch") if k in metrics}
        ),
        C.CLASSES_KEY: json.dumps(classes),
        "temperature": repr(temperature),
    }
    fd, tmp_name = tempfile.mkstemp(suffix=".onnx", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        export_onnx(model, tmp, metadata)
        report = parity(model, tmp, test.images[:PARITY_SAMPLES])
        if report["argmax_agree"] != report["samples"] or report["max_abs_logit_diff"] > PARITY_ATOL:
            raise ParityError(f"torch and onnxruntime disagree: {report}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; a model file is meant to be read
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {out} ({out.stat().st_size} bytes), parity {report}")
    if args.card:
        write_card(args, out, model, metrics, report)
    return report


def write_card(args: argparse.Namespace, onnx_path: Path, model: torch.nn.Module, metrics: dict, report: dict) -> None:
    """The model card: how to rebuild the file and what it scores."""
    from digitlens.export.evaluate import score
    from digitlens.inference.recognizer import Recognizer

    test = mnist.load_split("test", args.data_dir)
    ort_acc = score(Recognizer(onnx_path), test.images, test.labels)["accuracy"]
    card = {
        "file": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "architecture": args.arch,
        "train_command": args.train_command,
        "export_command": f"digitlens export {args.checkpoint} --arch {args.arch} --out {args.out}",
        "seed": metrics.get("hyperparameters", {}).get("seed"),
        "hyperparameters": metrics.get("hyperparameters"),
        "data_sha256": mnist.checksums(args.data_dir),
        "checkpoint": Path(args.checkpoint).name,
        "train_seconds": metrics.get("train_seconds"),
        "torch_threads": metrics.get("torch_threads"),
        "best_epoch": metrics.get("best_epoch"),
        "val_accuracy": metrics.get("val_accuracy"),
        "test_accuracy_torch": metrics.get("test_accuracy_torch"),
        "test_accuracy_onnxruntime": ort_acc,
        "parameters": count_parameters(model),
        "macs_per_crop": count_macs(model),
        "opset": C.OPSET,
        "input": {"name": C.INPUT_NAME, "convention": C.INPUT_CONVENTION},
        "output": {"name": C.OUTPUT_NAME, "shape": ["batch", len(Recognizer(onnx_path).classes)]},
        "classes": list(Recognizer(onnx_path).classes),
        "temperature": metrics.get("temperature"),
        "parity": report,
        "versions": {"torch": torch.__version__},
        "note": args.note,
    }
    Path(args.card).write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {args.card}: onnxruntime test accuracy {ort_acc:.4f}")


def run(args: argparse.Namespace) -> int:
    export(args)
    return 0
