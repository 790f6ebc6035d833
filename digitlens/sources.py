"""Turning a SOURCE argument into inputs: files for `batch`, a frame stream for `webcam`.

Ultralytics' convention: one argument that may be a camera index, a file, a folder, a
glob, a list file or a URL, and the command works out which.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

from digitlens.preprocess.load import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif"}
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class SourceError(ValueError):
    """The source names nothing usable."""


def _walk(folder: Path, recursive: bool) -> list[Path]:
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())
    found, seen = [], set()
    # os.walk with followlinks=False never loops; linked folders are visited once by real path
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(root) / name)
    return found


def image_inputs(source: str, recursive: bool = False, note: Callable[[str], None] | None = None) -> list[Path]:
    """A folder, a glob pattern, a text file listing paths (one per line) or one image.

    A source that yields no image is a SourceError; `note(text)` hears about anything
    done on the user's behalf (a '**' pattern searched recursively).
    """
    found = _inputs(source, recursive, note or (lambda text: None))
    if not found:
        raise SourceError(f"{source}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def _inputs(source: str, recursive: bool, note: Callable[[str], None]) -> list[Path]:
    p = Path(source)
    if p.is_dir():
        return _walk(p, recursive)
    if any(ch in source for ch in "*?["):
        if "**" in source and not recursive:
            note(f"'**' in {source!r} searches sub-folders, as with --recursive")
            recursive = True
        return sorted(
            Path(m)
            for m in glob.glob(source, recursive=recursive)
            if Path(m).suffix.lower() in IMAGE_SUFFIXES and not Path(m).is_dir()
        )
    if p.is_file() and p.suffix.lower() in (".txt", ".lst", ".list"):
        base = p.parent
        out = []
        # utf-8-sig: a byte-order mark (Windows Notepad) is not part of the first name;
        # surrogateescape: names that are not UTF-8 still name their files
        for line in p.read_text(encoding="utf-8-sig", errors="surrogateescape").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                q = Path(line)
                out.append(q if q.is_absolute() else base / q)
        return out
    if p.is_file() or p.is_symlink():
        return [p]
    raise SourceError(f"{source}: no such file, folder or pattern")


def parse_camera(source: str) -> int | None:
    """'0' -> 0 (a camera index); anything else -> None."""
    s = source.strip()
    return int(s) if s.isdigit() else None


def is_stream(source: str) -> bool:
    return source.lower().startswith(STREAM_PREFIXES)
