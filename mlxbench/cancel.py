"""SIGTERM and SIGHUP handled like Ctrl-C: what a CI runner sends on cancel, and a closed terminal.

`Terminated` is a KeyboardInterrupt, so every path that keeps what it finished on Ctrl-C (a pytest session
keeps its run as `.partial`, `mlxbench ab` stops both workers' process groups, a report writes all or
nothing, `mlxbench releases` keeps its finished releases) does the same on these signals; its `code`
is the shell's convention for the signal, 128 + its number (143 for SIGTERM, 129 for SIGHUP; Ctrl-C 130).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


class Terminated(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.code = 128 + signum


def exit_code(exc: BaseException) -> int:
    """The exit status an interrupted command ends with: 128 + the signal's number, 130 for Ctrl-C."""
    return exc.code if isinstance(exc, Terminated) else 130


def _raise(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def install(seen: Callable[[int], None] | None = None) -> Callable[[], None]:
    """Raise `Terminated` on SIGTERM and SIGHUP (main thread only; elsewhere nothing changes); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        if seen is not None:
            seen(signum)
        _raise(signum, frame)

    old = {}
    for s in SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            old[s] = signal.signal(s, handler)

    def undo() -> None:
        for s, h in old.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(s, h)

    return undo


@contextlib.contextmanager
def as_interrupt() -> Iterator[None]:
    undo = install()
    try:
        yield
    finally:
        undo()
