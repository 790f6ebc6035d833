"""Photo or frame -> MNIST-like digit crops in reading order (OpenCV and numpy only)."""

from digitlens.preprocess.config import PreprocessConfig
from digitlens.preprocess.pipeline import Preprocessed, Split, preprocess

__all__ = ["PreprocessConfig", "Preprocessed", "Split", "preprocess"]
