"""`digitlens photo IMAGE...`: read the digits in photos given on the command line.

Prints `path<TAB>text` per image (`-` reads one image from stdin), or one JSON object per image with --json.  A file
that cannot be read gets an error line (or an `error` field) and the others go on.
No output ever replaces an input.
Exit status: 0 all read, 1 some could not be read, 2 usage or model error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitlens.commands.common import (
    add_reader_arguments,
    annotate,
    annotated_names,
    build_reader,
    check_output_folder,
    have_display,
    one_line,
    refuse_overwriting_inputs,
    result_row,
    safe_stem,
    write_image,
)
from digitlens.preprocess.debug import write_debug
from digitlens.preprocess.load import IMAGE_SUFFIXES, display_name, load_image, set_quiet_decoding

if TYPE_CHECKING:
    from digitlens.inference.reader import Reading


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="photo files to read ('-' reads one image from stdin)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image (default: path<TAB>text)")
    p.add_argument(
        "--save",
        metavar="OUT",
        default=None,
        help="write annotated images: a file for one image, else a folder (default: none)",
    )
    p.add_argument(
        "--show", action="store_true", help="show each annotated image in a window; any key for the next (default: off)"
    )
    p.add_argument(
        "--debug",
        metavar="DIR",
        default=None,
        help="write every pipeline stage and the crops mosaic to DIR (default: none)",
    )
    add_reader_arguments(p)


def result_record(path: str, reading: Reading | None = None, error: str | None = None) -> dict:
    return result_row(path, reading if reading is not None else (error or "error"))


def save_targets(out: str, images: list[str]) -> dict[str, Path]:
    """Input -> annotated file: OUT itself for one image and an image suffix, else OUT/<unique name>."""
    o = Path(out)
    if len(images) == 1 and o.suffix.lower() in IMAGE_SUFFIXES:
        return {images[0]: o}
    return {p: o / name for p, name in annotated_names(images).items()}


def run(args: argparse.Namespace) -> int:
    if args.images.count("-") > 1:
        raise ValueError("'-' (stdin) can be given once")
    targets = save_targets(args.save, args.images) if args.save else {}
    refuse_overwriting_inputs(list(targets.values()), args.images, "--save")
    for folder in sorted({t.parent for t in targets.values()}):
        check_output_folder(folder, [], "--save")  # before the first image, not midway
    reader = build_reader(args)
    set_quiet_decoding()  # each bad file gets one line of ours, not the decoder's warnings
    show = args.show and have_display()
    if args.show and not show:
        print("digitlens photo: no display found; --show ignored", file=sys.stderr)
    failures = 0
    for path in args.images:
        name = display_name(path)
        try:
            image = load_image(path)
            reading = reader.read(image, keep_stages=bool(args.debug))
        except Exception as exc:  # one bad image never stops the rest (ImageLoadError is the expected one)
            failures += 1
            outcome: BaseException | str = exc
            if not isinstance(exc, (ValueError, MemoryError)):
                outcome = f"internal error ({type(exc).__name__}: {one_line(exc)})"
            row = result_row(path, outcome)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{name}\tERROR: {row['error']}", flush=True)
            print(f"digitlens photo: {row['error']}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result_row(path, reading)), flush=True)
        else:
            print(f"{name}\t{reading.text}", flush=True)
        if args.debug:
            crops = reading.crops if reading.crops is not None else np.zeros((0, 28, 28), np.float32)
            labels, confs, _ = reader.recognizer.classify(crops)
            caps = [f"{reader.recognizer.classes[lab]} {c:.2f}" for lab, c in zip(labels, confs, strict=True)]
            write_debug(args.debug, safe_stem(path if path != "-" else "stdin"), reading.stages, crops, caps)
        if args.save or show:
            drawn = annotate(image, reading)
            if args.save:
                write_image(targets[path], drawn)
            if show:
                import cv2

                cv2.imshow("digitlens", drawn)
                cv2.waitKey(0)
    if show:
        import cv2

        cv2.destroyAllWindows()
    return 1 if failures else 0
