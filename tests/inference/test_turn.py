"""The turn model: its contract, the shipped file's behaviour, and how the reader weighs it."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.inference import Reader
from digitlens.inference.recognizer import ModelError
from digitlens.inference.turn import TurnModel, default_turn_model_path
from digitlens.preprocess import PreprocessConfig
from tests.conftest import paper_with_digits

SHIPPED = default_turn_model_path()


def test_a_missing_or_foreign_model_is_refused(tmp_path):
    from digitlens.inference.recognizer import default_model_path

    with pytest.raises(ModelError, match="not found"):
        TurnModel(tmp_path / "none.onnx")
    with pytest.raises(ModelError, match="not a turn model"):
        TurnModel(default_model_path())  # the digit recogniser: logits, not upright nats
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        TurnModel(bad)


def test_bad_crops_are_refused_and_none_give_none():
    model = TurnModel()
    assert model.upright(np.zeros((0, 28, 28), np.float32)).shape == (0,)
    with pytest.raises(ValueError, match="28, 28"):
        model.upright(np.zeros((2, 32, 32), np.float32))


def test_the_shipped_model_tells_6s_from_turned_9s(mnist_test):
    model = TurnModel()
    for d in (6, 9):
        x = mnist_test.images[mnist_test.labels == d][:500].astype(np.float32) / 255.0
        e = model.upright(x)
        assert (e > 0).mean() > 0.8, d  # the recogniser and its table can do no better than a coin
        assert np.allclose(model.upright(x[:, ::-1, ::-1]), -e, atol=1e-4)


def _lone(mnist_test, digit: int, k: int) -> np.ndarray:
    i = int(np.flatnonzero(mnist_test.labels == digit)[k])
    return paper_with_digits([mnist_test.images[i]], height=120, origin=(260, 180))[0]


@pytest.mark.parametrize("digit", [6, 9])
def test_a_lone_6_or_9_turned_over_is_turned_back(reader, mnist_test, digit):
    """Turned over, a lone 6 is a 9 to the recogniser; the hand's shape tells which it was."""
    hits = upright = 0
    for k in range(10):
        image = _lone(mnist_test, digit, k)
        hits += reader.read(np.ascontiguousarray(np.rot90(image, 2))).text == str(digit)
        upright += reader.read(image).text == str(digit)
    assert hits >= 7 and upright >= 9


def test_without_the_turn_model_a_lone_turned_6_reads_as_given(mnist_test):
    off = Reader(config=PreprocessConfig(orientation_turn_weight=0))
    assert off.turn_model is None
    turned = [np.ascontiguousarray(np.rot90(_lone(mnist_test, 6, k), 2)) for k in range(10)]
    assert sum(off.read(t).text == "9" for t in turned) >= 7  # the prior for the photo as given decides


class _Says:
    """A stand-in turn model: every crop is upright by `nats`."""

    def __init__(self, nats: float):
        self.nats, self.calls = nats, 0

    def upright(self, crops):
        self.calls += 1
        return np.full(len(crops), self.nats, np.float32)


def test_the_reader_asks_the_turn_model_only_when_the_table_leaves_it_open(mnist_test):
    r = Reader()
    r.turn_model = says = _Says(-5.0)  # "every crop is upside down"
    six = _lone(mnist_test, 6, 0)
    assert r.read(six).rotation == 180  # a lone 6: the table leaves it open, the turn model settles it
    assert says.calls >= 1
    firsts = [int(np.flatnonzero(mnist_test.labels == d)[0]) for d in (2, 3, 4, 7)]
    line, _ = paper_with_digits([mnist_test.images[i] for i in firsts])
    says.calls = 0
    assert r.read(line).rotation == 0  # 2, 3, 4, 7: the table settles it, and is not asked again
    assert says.calls == 0
