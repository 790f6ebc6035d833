"""Package data: the shipped ONNX model and its model card."""
