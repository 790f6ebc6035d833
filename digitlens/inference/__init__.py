"""Scoring crops with onnxruntime (no torch): Recognizer for crops, Reader for images."""

from digitlens.inference.reader import DEFAULT_CONF, Digit, Reader, Reading
from digitlens.inference.recognizer import ModelError, Recognizer, default_model_path

__all__ = ["DEFAULT_CONF", "Digit", "ModelError", "Reader", "Reading", "Recognizer", "default_model_path"]
