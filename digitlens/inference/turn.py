"""The turn model (`digitlens train-turn`): how surely each crop is upright rather than
turned by 180 degrees, from the hand's own shape (a 6's curl against a 9's straight stem).

One onnxruntime session; numpy and onnxruntime only, never torch.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from digitlens import conventions as C
from digitlens.inference.recognizer import ModelError, open_session

DEFAULT_TURN_MODEL = "turnnet.onnx"


def default_turn_model_path() -> Path:
    return Path(str(resources.files("digitlens.models").joinpath(DEFAULT_TURN_MODEL)))


class TurnModel:
    """Loads the turn model once and checks its contract: input `image` [batch,1,28,28],
    output `upright` [batch] in nats."""

    def __init__(self, model: str | os.PathLike | None = None, threads: int | None = None):
        path = Path(model) if model is not None else default_turn_model_path()
        if not path.is_file():
            raise ModelError(f"turn model file not found: {path}")
        self.session = open_session(path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if [i.name for i in inputs] != [C.INPUT_NAME] or [o.name for o in outputs] != [C.UPRIGHT_NAME]:
            raise ModelError(f"{path}: not a turn model (wants input {C.INPUT_NAME!r}, output {C.UPRIGHT_NAME!r})")
        self.path = path

    def upright(self, crops: np.ndarray) -> np.ndarray:
        """crops: [N, 28, 28] float32 0..1 white on black -> [N] nats that each is upright."""
        crops = np.asarray(crops, dtype=np.float32)
        if crops.ndim != 3 or crops.shape[1:] != (C.IMAGE_SIZE, C.IMAGE_SIZE):
            raise ValueError(f"crops must be [N, 28, 28], got {crops.shape}")
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        out = self.session.run([C.UPRIGHT_NAME], {C.INPUT_NAME: np.ascontiguousarray(crops[:, None])})[0]
        return np.asarray(out, np.float32).reshape(len(crops))
