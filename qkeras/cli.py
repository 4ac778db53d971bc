"""The ``qkeras`` command.

Each sub-command is a thin wrapper: it parses arguments, calls the library, prints the
result, and turns a :class:`~qkeras.errors.QKerasError` into a one-line message and exit
status 2.

Example:
    >>> main(["--version"])  # doctest: +SKIP
    qkeras 0.1.0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from qkeras.errors import QKerasError

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, setup: Callable[[argparse.ArgumentParser], None]):
    """Registers a sub-command: ``setup`` adds its arguments, the decorated function runs it."""

    def decorate(handler: Handler) -> Handler:
        if name in _COMMANDS:
            raise ValueError(f"qkeras command {name!r} is registered twice")
        _COMMANDS[name] = (setup, handler)
        return handler

    return decorate


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the ``qkeras`` command.

    Example:
        >>> build_parser().prog
        'qkeras'
    """
    from qkeras._version import __version__

    parser = argparse.ArgumentParser(prog="qkeras", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"qkeras {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (setup, handler) in sorted(_COMMANDS.items()):
        doc = (handler.__doc__ or "").strip().splitlines()
        sub = subparsers.add_parser(name, help=doc[0] if doc else None,
                                    description=doc[0] if doc else None)
        setup(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``qkeras`` command and returns its exit status.

    Example:
        >>> main([])  # doctest: +ELLIPSIS
        usage: qkeras ...
        2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_usage(sys.stdout)
        return 2
    try:
        return int(args.handler(args) or 0)
    except QKerasError as err:
        print(f"qkeras {args.command}: {err}", file=sys.stderr)
        return 2


# Sub-commands -------------------------------------------------------------------------
# Each block below registers one command; the work itself lives in the library.


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
