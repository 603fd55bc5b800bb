"""The command line: the only place that prints verdicts and chooses exit codes.

Each subcommand lives in its own module with two functions, `configure(parser)` to declare its
arguments and `run(args) -> int` to do the work; modules are imported only when their command runs,
so `handlstm --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import UserError

COMMANDS = {
    # name: (module, one-line help)
    "train": ("handlstm.train.command", "train the lesson's LSTM with Lightning on the lesson's data"),
    "golden": ("handlstm.golden", "compare or regenerate the regression baseline (maintainers)"),
    "check": ("handlstm.check.command", "check a learner's LSTMbyHand against the reference"),
    "autograder": ("handlstm.autograder", "write an autograder to upload (Gradescope), and run it"),
}


class OneLineParser(argparse.ArgumentParser):
    """A command-line mistake is one line (and exit code 2), not a usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="handlstm",
        description="Reference-checked verification suite for the lesson's hand-coded LSTM.")
    parser.add_argument("--version", action="version", version=f"handlstm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(module=module_name)
        importlib.import_module(module_name).configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return importlib.import_module(args.module).run(args)
    except UserError as error:
        print(f"handlstm {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"handlstm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
