"""The MNIST conventions that training, export and inference must agree on.

Everything that crosses the torch/onnxruntime boundary is defined here once, so a
crop made by the photo pipeline is exactly what the network saw in training.
"""

from __future__ import annotations

#: Side of an MNIST image, in pixels.
IMAGE_SIZE = 28
#: MNIST digits were fitted into a box of this side (aspect kept) before centring.
BOX_SIZE = 20
#: Number of classes (digits 0-9).
NUM_CLASSES = 10
#: Class names of a plain digit model; an 11-class model adds NOT_DIGIT as its last class.
DIGIT_CLASSES = tuple(str(d) for d in range(10))
#: Name of the "not a digit" class (operators, letters, rules, edges, textures, pieces of digits).
NOT_DIGIT = "not_digit"
#: ONNX metadata key holding the class list as a JSON array of names (absent: the ten digits).
CLASSES_KEY = "classes"

#: Name, dtype and layout of the ONNX model's input: float32 [batch, 1, 28, 28],
#: values 0..1, white digit on black (MNIST's own polarity).
INPUT_NAME = "image"
#: Name of the ONNX model's output: float32 [batch, classes] raw logits (10 digits, or 11 with NOT_DIGIT).
OUTPUT_NAME = "logits"
#: Name of the turn model's output (`digitlens train-turn`): float32 [batch], nats that each crop is
#: upright rather than turned by 180 degrees; the graph makes it antisymmetric, e(turned x) = -e(x).
UPRIGHT_NAME = "upright"
#: ONNX opset the exporter targets.
OPSET = 18

#: Human-readable statement written into the ONNX metadata.
INPUT_CONVENTION = (
    "float32 [batch,1,28,28], values 0..1, white digit on black background, "
    "digit fitted in a 20x20 box (aspect kept) and centred by centre of mass"
)

#: Human-readable statement of the turn model's output, written into its metadata.
UPRIGHT_CONVENTION = "float32 [batch]: nats that the crop is upright rather than turned by 180 degrees; e(turned) = -e"
