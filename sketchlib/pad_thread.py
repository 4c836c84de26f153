"""One background completion at a time for :class:`~sketchlib.widgets.SketchPad`, which the user can stop."""

from __future__ import annotations

import threading
from typing import Callable

__all__ = ["CompletionThread"]


class CompletionThread:
    """Runs ``work`` in a daemon thread; :meth:`stop` asks it to end (it polls :attr:`stop_requested`) and waits."""

    def __init__(self, name: str = "sketchpad-complete"):
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.RLock()  # held while a completion changes the pad's drawing

    def start(self, work: Callable[[], None]) -> None:
        """Stop a running completion, then run ``work`` in a new thread."""
        self.stop()
        self._stop.clear()
        self._thread = threading.Thread(target=work, name=self.name, daemon=True)
        self._thread.start()

    def clear(self) -> None:
        """Forget an earlier stop request (before a completion that runs in the caller's thread)."""
        self._stop.clear()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, waking at once when a stop is requested."""
        self._stop.wait(seconds)

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until the running completion has finished."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Ask the running completion to end and wait for it (up to 5 s; never from inside it)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self._thread = None
