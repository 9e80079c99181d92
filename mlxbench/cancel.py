"""SIGTERM and SIGHUP handled like Ctrl-C: what a CI runner sends on cancel, and a closed terminal.

`Terminated` is a KeyboardInterrupt, so every path that keeps what it finished on Ctrl-C (a pytest session
keeps its run as `.partial`, `mlxbench ab` stops both workers' process groups, a report writes all or
nothing, `mlxbench releases` keeps its finished releases) does the same on these signals; its `code`
is the shell's convention for the signal, 128 + its number (143 for SIGTERM, 129 for SIGHUP; Ctrl-C 130).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
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


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for child processes that must not outlive this one, even when it is SIGKILLed (which no
    handler sees): on Linux the kernel sends the child SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG),
    and a child whose parent died before that took effect exits at once. A child killed so keeps nothing
    behind its parent's back. Elsewhere (macOS has no PR_SET_PDEATHSIG) it does nothing: there the parent's
    handlers stop its children on Ctrl-C, SIGTERM and SIGHUP, and a SIGKILLed parent's children run on."""
    parent = os.getpid()

    def setup() -> None:
        if not sys.platform.startswith("linux"):
            return
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return setup
