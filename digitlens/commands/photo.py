"""`digitlens photo IMAGE...`: read the digits in photos given on the command line.

Prints `path<TAB>text` per image, or one JSON object per image with --json.  A file
that cannot be read gets an error line (or an `error` field) and the others go on.
Exit status: 0 all read, 1 some could not be read, 2 usage or model error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digitlens.commands.common import add_reader_arguments, annotate, build_reader, have_display, safe_stem, write_image
from digitlens.preprocess import preprocess
from digitlens.preprocess.debug import write_debug
from digitlens.preprocess.load import IMAGE_SUFFIXES, ImageLoadError, load_image


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="photo files to read")
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


def result_record(path: str, reading=None, error: str | None = None) -> dict:
    rec = {"file": path, "text": reading.text if reading else "", "digits": [], "rejected": [], "error": error}
    if reading is not None:
        rec.update(reading.to_dict())
    return rec


def save_target(out: str, image_path: str, many: bool) -> Path:
    o = Path(out)
    if not many and o.suffix.lower() in IMAGE_SUFFIXES:
        return o
    return o / f"{safe_stem(image_path)}.annotated.png"


def run(args: argparse.Namespace) -> int:
    reader = build_reader(args)
    show = args.show and have_display()
    if args.show and not show:
        print("digitlens photo: no display found; --show ignored", file=sys.stderr)
    failures = 0
    many = len(args.images) > 1
    for path in args.images:
        try:
            image = load_image(path)
            pre = preprocess(image, reader.config, keep_stages=bool(args.debug))
            reading = reader.read_preprocessed(pre)
        except ImageLoadError as exc:
            failures += 1
            if args.json:
                print(json.dumps(result_record(path, error=str(exc))), flush=True)
            else:
                print(f"{path}\tERROR: {exc}", flush=True)
            print(f"digitlens photo: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result_record(path, reading)), flush=True)
        else:
            print(f"{path}\t{reading.text}", flush=True)
        if args.debug:
            labels, confs, _ = reader.recognizer.classify(pre.crops)
            caps = [f"{reader.recognizer.classes[lab]} {c:.2f}" for lab, c in zip(labels, confs)]
            write_debug(args.debug, safe_stem(path), pre.stages, pre.crops, caps)
        if args.save or show:
            drawn = annotate(image, reading)
            if args.save:
                write_image(save_target(args.save, path, many), drawn)
            if show:
                import cv2

                cv2.imshow("digitlens", drawn)
                cv2.waitKey(0)
    if show:
        import cv2

        cv2.destroyAllWindows()
    return 1 if failures else 0
