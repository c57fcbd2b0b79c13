"""The ``kai-labs`` command line.

Subcommands live with the code they drive: each module listed in ``_MODULES``
has ``register(subparsers)`` and sets ``func`` on its parsers. A learner's
mistake ends in one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from typing import Any

from . import __version__
from .clusters.base import ClusterError
from .errors import friendly

_MODULES = ["kai_labs.clusters.cli", "kai_labs.clusters.nodecli", "kai_labs.labs.cli", "kai_labs.labs.workshop"]


def emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=lambda o: o.__dict__))
    else:
        print(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kai-labs", description="Road of Kubernetes 03: Services, hands on.")
    p.add_argument("--version", action="version", version=f"kai-labs {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and mod.startswith(e.name):
                continue
            raise
        m.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    try:
        rc = args.func(args)
        return int(rc or 0)
    except ClusterError as e:
        print(f"kai-labs: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kai-labs ... | head`: the reader left; not a cluster problem (BrokenPipeError is a ConnectionError)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # noqa: BLE001 - the last line of defence for learners
        msg = friendly(e)
        if msg is None:
            raise
        print(f"kai-labs: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
