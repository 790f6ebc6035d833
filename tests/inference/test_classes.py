"""The class list comes from the model's metadata; "not a digit" answers never reach the text."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from digitlens.inference.reader import LOW_CONFIDENCE, NOT_DIGIT, Reader  # noqa: E402
from digitlens.inference.recognizer import ModelError, Recognizer  # noqa: E402
from digitlens.preprocess.pipeline import Preprocessed, Split  # noqa: E402

DIGITS = [str(d) for d in range(10)]


def linear_model(path, k: int, classes: list[str] | None, ink_weight: float = 0.0) -> str:
    """logits = fixed biases + mean ink * ink_weight on the last class: "3" for faint crops, the last for inky ones."""
    w = np.zeros((784, k), np.float32)
    w[:, k - 1] = ink_weight / 784
    b = np.full(k, -10.0, np.float32)
    b[3], b[k - 1] = 0.0, -5.0
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 28, 28])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", k])
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["logits"]),
    ]
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    if classes is not None:
        helper.set_model_props(model, {"classes": json.dumps(classes)})
    onnx.save(model, str(path))
    return str(path)


def test_ten_class_model_without_metadata_is_the_ten_digits(tmp_path):
    rec = Recognizer(linear_model(tmp_path / "m.onnx", 10, None))
    assert rec.classes == tuple(DIGITS) and rec.num_classes == 10 and rec.not_digit_index is None
    labels, _, probs = rec.classify(np.zeros((4, 28, 28), np.float32))
    assert probs.shape == (4, 10) and (labels == 3).all()


def test_eleven_class_model_reads_its_classes_from_metadata(tmp_path):
    rec = Recognizer(linear_model(tmp_path / "m.onnx", 11, [*DIGITS, "not_digit"], ink_weight=20))
    assert rec.num_classes == 11 and rec.classes[-1] == "not_digit" and rec.not_digit_index == 10
    crops = np.stack([np.full((28, 28), 0.1, np.float32), np.full((28, 28), 0.6, np.float32)])
    labels, _, probs = rec.classify(crops)
    assert probs.shape == (2, 11) and labels.tolist() == [3, 10]
    assert rec.logits(np.zeros((0, 28, 28), np.float32)).shape == (0, 11)


@pytest.mark.parametrize(
    "k, classes, match",
    [
        (11, None, r"output must be \[batch,10\]"),  # 11 outputs but no class list
        (10, [*DIGITS, "not_digit"], r"output must be \[batch,11\]"),  # the list and the graph disagree
        (11, [*DIGITS, "cat"], "must list the digits 0-9"),
        (10, list("abcdefghij"), "must list the digits 0-9"),
    ],
)
def test_inconsistent_class_lists_are_refused(tmp_path, k, classes, match):
    with pytest.raises(ModelError, match=match):
        Recognizer(linear_model(tmp_path / "m.onnx", k, classes))


def test_class_list_that_is_not_json_is_refused(tmp_path):
    path = linear_model(tmp_path / "m.onnx", 10, None)
    model = onnx.load(path)
    helper.set_model_props(model, {"classes": "0,1,2"})
    onnx.save(model, path)
    with pytest.raises(ModelError, match="classes"):
        Recognizer(path)


def faint(n=1):
    return np.full((n, 28, 28), 0.1, np.float32)  # read as "3" by the linear model


def inky(n=1):
    return np.full((n, 28, 28), 0.6, np.float32)  # "not a digit"


def boxes(*xs):
    return np.array([(x, 10, 20, 30) for x in xs], np.int64)


@pytest.fixture
def reader11(tmp_path):
    return Reader(linear_model(tmp_path / "m.onnx", 11, [*DIGITS, "not_digit"], ink_weight=20), conf=0.5)


def test_not_a_digit_goes_to_rejected_with_its_kind(reader11):
    pre = Preprocessed(np.concatenate([faint(), inky(), faint()]), boxes(0, 30, 60), np.zeros(3, np.int64), (100, 100))
    reading = reader11.read_preprocessed(pre)
    assert reading.text == "33"
    assert [d.kind for d in reading.digits] == ["digit", "digit"]
    (mark,) = reading.rejected
    assert mark.kind == NOT_DIGIT and mark.label == -1 and mark.box == (30, 10, 20, 30) and mark.confidence > 0.9
    d = reading.to_dict()
    assert d["rejected"][0]["kind"] == "not_digit" and d["digits"][0]["kind"] == "digit"
    assert set(d["digits"][0]) == {"label", "confidence", "box", "line", "kind"}  # old fields kept, one added


def test_low_confidence_digit_is_rejected_as_such(tmp_path):
    reader = Reader(linear_model(tmp_path / "m.onnx", 11, [*DIGITS, "not_digit"], ink_weight=20), conf=0.999)
    reading = reader.read_preprocessed(Preprocessed(faint(), boxes(0), np.zeros(1, np.int64), (100, 100)))
    assert reading.text == "" and [d.kind for d in reading.rejected] == [LOW_CONFIDENCE]
    assert reading.rejected[0].label == 3


def test_a_line_of_only_marks_leaves_no_gap(reader11):
    pre = Preprocessed(
        np.concatenate([faint(), inky(), faint()]), boxes(0, 0, 0), np.array([0, 1, 2], np.int64), (100, 100)
    )
    reading = reader11.read_preprocessed(pre)
    assert reading.text == "3 3" and [d.line for d in reading.digits] == [0, 1]


def test_split_with_a_not_digit_piece_fails(reader11):
    whole = faint()  # read as a digit
    pieces = np.concatenate([faint(), inky()])  # one piece is no digit: the proposal is wrong
    pre = Preprocessed(whole, boxes(0), np.zeros(1, np.int64), (100, 100), splits=(Split(0, pieces, boxes(0, 10)),))
    reading = reader11.read_preprocessed(pre)
    assert reading.text == "3" and reading.rejected == []


def test_touching_pair_called_not_a_digit_reads_as_its_pieces(reader11):
    whole = inky()  # the pair as one crop is "not a digit"
    pre = Preprocessed(whole, boxes(0), np.zeros(1, np.int64), (100, 100), splits=(Split(0, faint(2), boxes(0, 10)),))
    reading = reader11.read_preprocessed(pre)
    assert reading.text == "33" and reading.rejected == []


def test_ten_class_reader_has_no_not_digit_kind(tmp_path):
    reader = Reader(linear_model(tmp_path / "m.onnx", 10, None), conf=0.5)
    pre = Preprocessed(np.concatenate([faint(), inky()]), boxes(0, 30), np.zeros(2, np.int64), (100, 100))
    reading = reader.read_preprocessed(pre)
    assert reading.text == "33" and reading.rejected == []


def test_a_doubtful_not_digit_is_read_as_its_likeliest_digit(tmp_path):
    path = linear_model(tmp_path / "m.onnx", 11, [*DIGITS, "not_digit"], ink_weight=20)
    crop = np.full((1, 28, 28), 0.27, np.float32)  # P(not a digit) = 0.6, P(3) = 0.4
    pre = Preprocessed(crop, boxes(0), np.zeros(1, np.int64), (100, 100))
    lenient = Reader(path, conf=0.3, not_digit_conf=0.7).read_preprocessed(pre)
    assert lenient.text == "3" and lenient.digits[0].confidence == pytest.approx(0.4, abs=0.01)
    strict = Reader(path, conf=0.3, not_digit_conf=0.5).read_preprocessed(pre)
    assert strict.text == "" and strict.rejected[0].kind == NOT_DIGIT
    with pytest.raises(ValueError, match="not_digit_conf"):
        Reader(path, not_digit_conf=1.5)
