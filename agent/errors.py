"""Errors the user can fix: the CLI prints their message as one line and exits non-zero."""


class UserError(Exception):
    """Bad input (goal, options, directory, model): the message names the problem and the fix."""


class Stopped(KeyboardInterrupt):
    """A run stopped by a signal (SIGINT or SIGTERM) at the next point Python can raise it; `signal` names it."""

    def __init__(self, signal: str) -> None:
        super().__init__(signal)
        self.signal = signal
