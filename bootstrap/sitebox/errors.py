"""The error type every expected failure uses, and how it reaches the user.

An expected failure is a ``SiteboxError``: the command ends with exit 1 and a
message that says what went wrong, where, and what to do. Anything else is a
bug: exit 3 and a pointer to the log that holds the traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in the user's input a problem sits."""

    file: str
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} ({self.key})" if self.key else where


class SiteboxError(Exception):
    """A failure the user can act on: message, optional hint and location."""

    def __init__(self, message: str, hint: str | None = None, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def render(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        text = f"error: {prefix}{self.message}"
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class RunInterruptedError(SiteboxError):
    """A run stopped by Ctrl-C or SIGTERM, saying what state it left and what continues."""

    exit_code = 130


class ToolMissingError(SiteboxError):
    """A pinned tool is not installed in the cache."""

    def __init__(self, tool: str):
        super().__init__(
            f"{tool} is not installed",
            hint="run `sitebox tools install` (builds the pinned tools from the Go module proxy)",
        )
        self.tool = tool
