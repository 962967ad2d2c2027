"""Errors the user can fix: the CLI prints their message as one line and exits non-zero."""


class UserError(Exception):
    """Bad input (goal, options, directory, model): the message names the problem and the fix."""
