import numpy as np
import pytest

import digitlens
from digitlens.inference import ModelError, Reader, Recognizer
from digitlens.inference.reader import Digit, compose_text
from tests.conftest import paper_with_digits


def test_reader_reads_a_line_of_mnist_digits(reader, mnist_test):
    idx = [0, 1, 2, 3, 4, 7]
    img, boxes = paper_with_digits([mnist_test.images[i] for i in idx])
    reading = reader.read(img)
    assert reading.text == "".join(str(mnist_test.labels[i]) for i in idx)
    assert len(reading.digits) == len(idx)
    for d, (x, y, _w, _h) in zip(reading.digits, boxes, strict=True):
        assert 0.5 <= d.confidence <= 1.0
        assert abs(d.box[0] - x) < 8 and abs(d.box[1] - y) < 8


def test_two_lines_are_separated_by_a_space(reader, mnist_test):
    a, _ = paper_with_digits([mnist_test.images[i] for i in (0, 1)], origin=(40, 40))
    b, _ = paper_with_digits([mnist_test.images[i] for i in (2, 3)], origin=(40, 260))
    img = np.minimum(a, b)
    labels = mnist_test.labels
    assert reader.read(img).text == f"{labels[0]}{labels[1]} {labels[2]}{labels[3]}"


@pytest.mark.parametrize("rotate, copies", [(0, 1), ("auto", 2)])
def test_crops_are_classified_in_one_batch(mnist_test, monkeypatch, rotate, copies):
    # rotate="auto" scores the same crops turned upside down in that one call; the pieces of
    # the proposed splits (touching pairs) ride in the same call
    from digitlens.preprocess import preprocess

    reader = Reader(rotate=rotate)
    calls = []
    real = reader.recognizer.session.run

    def spy(names, feeds):
        calls.append(next(iter(feeds.values())).shape)
        return real(names, feeds)

    monkeypatch.setattr(reader.recognizer.session, "run", spy)
    img, _ = paper_with_digits([mnist_test.images[i] for i in range(5)])
    pre = preprocess(img, reader.config)
    pieces = sum(len(sp.crops) for sp in pre.splits)
    reading = reader.read(img)
    assert len(pre) == 5 and calls == [(copies * 5 + pieces, 1, 28, 28)]
    assert len(reading.digits) == 5


def test_low_confidence_marks_are_rejected_not_read(mnist_test):
    strict = Reader(conf=1.0)
    img, _ = paper_with_digits([mnist_test.images[i] for i in range(3)])
    r = strict.read(img)
    assert r.text == "" and len(r.rejected) == 3


def test_compose_text_and_line_numbers():
    ds = [Digit(1, 0.9, (0, 0, 1, 1), 0), Digit(2, 0.9, (5, 0, 1, 1), 0), Digit(3, 0.9, (0, 9, 1, 1), 1)]
    assert compose_text(ds) == "12 3"


def test_package_level_read_on_a_path(tmp_path, mnist_test):
    import cv2

    img, _ = paper_with_digits([mnist_test.images[i] for i in (0, 1)])
    p = tmp_path / "two.png"
    cv2.imwrite(str(p), img)
    assert digitlens.read(str(p)).text == f"{mnist_test.labels[0]}{mnist_test.labels[1]}"


@pytest.mark.parametrize(
    "bad", [np.zeros((0, 0), np.uint8), np.zeros((5, 5, 7), np.uint8), np.array([[np.nan]], np.float32)]
)
def test_reader_rejects_bad_arrays(reader, bad):
    with pytest.raises(ValueError):
        reader.read(bad)


def test_model_faults_are_refused_at_load(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Recognizer(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        Recognizer(junk)
    with pytest.raises(ModelError, match="directory"):
        Recognizer(tmp_path)


def test_model_with_wrong_output_size_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["b", 1, 28, 28])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 784])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 784])
    graph = helper.make_graph([helper.make_node("Reshape", ["image", "shape"], ["logits"])], "g", [x], [y], [shape])
    p = tmp_path / "wide.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    with pytest.raises(ModelError, match=r"output must be \[batch,10\]"):
        Recognizer(p)


def test_form_strips_read_without_the_walls_of_empty_boxes(reader, mnist_test):
    from digitlens.synth.pens import DigitInk
    from digitlens.synth.scenes import make_form_strip_scene

    ink = DigitInk(mnist_test.images)
    exact = 0
    for i in range(12):  # strips cut tight around a row of printed boxes: rules thick against the strip
        sc = make_form_strip_scene(np.random.default_rng([7, i]), mnist_test.images, mnist_test.labels, ink=ink)
        exact += reader.read(sc.image).text.replace(" ", "") == sc.text
    assert exact >= 10  # 8 when a rule's thickness was judged against the strip's height
