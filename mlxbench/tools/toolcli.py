"""What the maintainer tools that print figures share on the command line (`replay`, `simulate`): bad input is one
line and exit 2, output survives a closed pipe or a narrow encoding, and `--json` writes the figures in one step."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints its usage first)
        print(f"{self.prog}: {message} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def complain(tool: str, message: str) -> int:
    """One message on stderr, within 120 columns; the exit code of bad input."""
    from mlxbench.units import fit

    print("\n".join(fit(f"mlxbench.tools.{tool}: {message}")), file=sys.stderr)
    return 2


def main(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int], argv: list[str] | None) -> int:
    from mlxbench.units import tolerant_output

    with tolerant_output():
        return run(parser.parse_args(argv))


def write_json(tool: str, target: Path | None, figures: dict[str, Any]) -> int:
    """The figures into `--json` if given (0), or the complaint's exit code where it cannot be written."""
    if target is None:
        return 0
    from mlxbench.session.saving import replace_atomically

    try:
        replace_atomically(target, json.dumps(figures, indent=2).encode())
    except OSError as exc:
        return complain(tool, f"cannot write --json {target} ({exc.strerror or exc}); check the path")
    return 0
