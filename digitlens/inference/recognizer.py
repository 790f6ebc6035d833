"""The classifier side: one onnxruntime session, every crop of an image in one call.

Only numpy and onnxruntime are imported here, never torch: this is what runs on a
user's laptop for every webcam frame.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from digitlens import conventions as C

DEFAULT_MODEL = "digitnet.onnx"


class ModelError(RuntimeError):
    """The model file is missing, unreadable, or does not follow the input/output contract."""


def default_model_path() -> Path:
    return Path(str(resources.files("digitlens.models").joinpath(DEFAULT_MODEL)))


def open_session(path: Path, threads: int | None = None) -> Any:
    """One CPU onnxruntime session on `path` (`threads` intra-op threads, else onnxruntime's
    choice); a file onnxruntime cannot load is a ModelError naming it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a loadable ONNX model ({first[:200]})") from None


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Recognizer:
    """Loads an ONNX digit classifier once and checks its contract at load time."""

    def __init__(self, model: str | os.PathLike | None = None, threads: int | None = None):
        path = Path(model) if model is not None else default_model_path()
        if model is not None and not path.exists() and path.name == str(model) and not path.suffix:
            shipped = default_model_path().with_name(f"{model}.onnx")  # a shipped model by name
            path = shipped if shipped.exists() else path
        if not path.exists():
            raise ModelError(f"model file not found: {path}")
        if path.is_dir():
            raise ModelError(f"model path is a directory, not an ONNX file: {path}")
        self.session = open_session(path, threads)
        self.path = path
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.classes = self._read_classes()
        #: index of the "not a digit" output, or None for a plain ten-digit model
        self.not_digit_index = self.classes.index(C.NOT_DIGIT) if C.NOT_DIGIT in self.classes else None
        self._check_contract()
        #: how this model reads digits turned upside down (row: true class), from its card; None if unknown
        self.turned_confusion = self._read_turned(path.with_suffix(".json"))

    def _read_turned(self, card: Path) -> np.ndarray | None:
        """The card's `turned_confusion` table (benchmarks/turned_confusion.py), when it fits this model."""
        try:
            table = np.asarray(json.loads(card.read_text(encoding="utf-8"))["turned_confusion"], np.float64)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        k = len(self.classes)
        if table.shape != (k, k) or not np.isfinite(table).all() or (table < 0).any():
            return None
        return table

    def _read_classes(self) -> tuple[str, ...]:
        """The class names from the metadata (a JSON list); the ten digits when the model has none."""
        raw = self.metadata.get(C.CLASSES_KEY)
        if raw is None:
            return C.DIGIT_CLASSES
        try:
            classes = json.loads(raw)
        except ValueError:
            classes = None
        if (
            not isinstance(classes, list)
            or tuple(classes[:10]) != C.DIGIT_CLASSES
            or classes[10:] not in ([], [C.NOT_DIGIT])
        ):
            raise ModelError(
                f"{self.path}: metadata {C.CLASSES_KEY!r} must list the digits 0-9, optionally then {C.NOT_DIGIT!r};"
                f" got {raw[:80]!r}"
            )
        return tuple(classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _check_contract(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(f"{self.path}: expected one input and one output, got {len(inputs)} and {len(outputs)}")
        inp, out = inputs[0], outputs[0]
        shape = list(inp.shape)
        if inp.type != "tensor(float)" or len(shape) != 4 or shape[1:] != [1, C.IMAGE_SIZE, C.IMAGE_SIZE]:
            raise ModelError(f"{self.path}: input must be float32 [batch,1,28,28], got {inp.type} {shape}")
        oshape = list(out.shape)
        if len(oshape) != 2 or oshape[1] != self.num_classes:
            raise ModelError(
                f"{self.path}: output must be [batch,{self.num_classes}] (per its {C.CLASSES_KEY!r} metadata),"
                f" got {oshape}"
            )
        self.input_name, self.output_name = inp.name, out.name
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None

    def logits(self, crops: np.ndarray) -> np.ndarray:
        """crops: [N, 28, 28] float32 0..1 white on black -> logits [N, classes]."""
        crops = np.asarray(crops, dtype=np.float32)
        if crops.ndim != 3 or crops.shape[1:] != (C.IMAGE_SIZE, C.IMAGE_SIZE):
            raise ValueError(f"crops must be [N, 28, 28], got {crops.shape}")
        if len(crops) == 0:
            return np.zeros((0, self.num_classes), np.float32)
        x = np.ascontiguousarray(crops[:, None])
        if self.fixed_batch is not None:
            return np.concatenate(
                [self.session.run([self.output_name], {self.input_name: x[i : i + 1]})[0] for i in range(len(x))]
            )
        return self.session.run([self.output_name], {self.input_name: x})[0]

    def classify(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (labels [N] int, confidences [N] float, probabilities [N, classes]).

        A label equal to `not_digit_index` (10, on an 11-class model) means "not a digit".
        """
        probs = softmax(self.logits(crops).astype(np.float64))
        labels = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
        conf = probs[np.arange(len(probs)), labels] if len(probs) else np.zeros(0)
        return labels.astype(np.int64), conf.astype(np.float32), probs.astype(np.float32)
