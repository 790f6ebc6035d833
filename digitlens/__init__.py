"""digitlens: read handwritten digits from photos, folders and webcams.

    >>> import digitlens
    >>> reading = digitlens.read("samples/notebook_line.jpg")
    >>> reading.text

Importing this package loads neither torch nor onnxruntime; the first call to `read`
builds one Reader (one onnxruntime session) and reuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digitlens.inference.reader import Reader, Reading

__version__ = "0.1.0"

_default_reader: Reader | None = None


def read(image: Any, **reader_options: Any) -> Reading:
    """Read the digits of an image (a path, image-file bytes, a numpy array or a PIL image) with the shipped model."""
    global _default_reader
    from digitlens.inference.reader import Reader

    if reader_options:
        reader = Reader(**reader_options)
    else:
        if _default_reader is None:
            _default_reader = Reader()
        reader = _default_reader
    return reader.read(image)


def __getattr__(name: str) -> Any:
    if name in ("Reader", "Reading", "Digit", "Recognizer"):
        from digitlens import inference

        return getattr(inference, name)
    if name in ("PreprocessConfig", "preprocess"):
        from digitlens import preprocess as _pre

        return getattr(_pre, name)
    raise AttributeError(f"module 'digitlens' has no attribute {name!r}")
