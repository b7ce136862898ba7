"""The two kinds of error a user sees as one line (exit status 2), whatever raised them."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class ConfigError(ValueError):
    """A config that cannot be used; its message is one line for the user."""
