"""The `digitlens` command: one entry point, one subcommand per use.

Subcommand modules are imported only when chosen, so `digitlens photo` never pays for
(or needs) torch.  Errors meant for the user end as one line on stderr and exit 2;
SIGTERM is handled like Ctrl-C (summary, outputs closed) with exit 143; a closed output
pipe (`digitlens photo *.jpg | head -1`) ends quietly with exit 141.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# name -> (module, one-line help)
COMMANDS = {
    "photo": ("digitlens.commands.photo", "read the digits in one or more photos"),
    "batch": ("digitlens.commands.batch", "read every photo in a folder, glob or list into JSONL/CSV"),
    "webcam": ("digitlens.commands.webcam", "read digits live from a camera, video file or stream"),
    "train": ("digitlens.export.train", "train a model on MNIST (needs the [train] extra)"),
    "train-turn": ("digitlens.export.turn", "train the model that tells an upright digit from one turned over"),
    "export": ("digitlens.export.onnx_export", "export a trained checkpoint to ONNX, with a parity check"),
    "eval": ("digitlens.export.evaluate", "score an ONNX model on the MNIST test set"),
    "quantize": ("digitlens.export.quantize", "make an int8 copy of an ONNX model and measure it"),
    "sweep": ("digitlens.export.sweep", "train a grid of learning rates and momenta"),
    "synth": ("digitlens.synth", "generate synthetic photos of MNIST digits with ground truth"),
    "serve": ("digitlens.serve.command", "an HTTP API and a web page for reading digits (needs the [serve] extra)"),
}


# the extra that brings each optional third-party module
EXTRAS = {"torch": "train", "onnx": "train", "onnxscript": "train", "matplotlib": "train"}


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so the same clean-up runs (exit 143)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _missing(command: str, exc: ImportError, argv: list[str]) -> int:
    """A command whose dependencies are not installed: help still works, and says what to install."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top, "train")
    hint = f"needs {top or 'an optional dependency'}, which is not installed: pip install 'digitlens[{extra}]'"
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(f"usage: digitlens {command} [options]\n\n{COMMANDS[command][1]}\n\nThis command {hint}")
        print("Its options are listed here once that is installed.")
        return 0
    print(f"digitlens {command}: {hint}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    from digitlens import __version__

    parser = argparse.ArgumentParser(
        prog="digitlens", description="Read handwritten digits from photos, folders and webcams."
    )
    parser.add_argument("--version", action="version", version=f"digitlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        p.set_defaults(module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # parse the command name first, then let the chosen module add its own options
    head = parser.parse_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    if not getattr(head, "command", None):
        parser.print_help()
        return 2
    try:
        module = importlib.import_module(head.module)
    except ImportError as exc:
        return _missing(head.command, exc, argv)
    sub = argparse.ArgumentParser(prog=f"digitlens {head.command}", description=COMMANDS[head.command][1])
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    args.command = head.command
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt as exc:
        print(
            f"digitlens {head.command}: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}",
            file=sys.stderr,
        )
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (UserError, OSError, ValueError, RuntimeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {exc.strerror or msg}"
        print(f"digitlens {head.command}: error: {msg}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the final flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
