"""Turning a wrong value into the value the admin probably meant."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# The strict form of a Kubernetes resource.Quantity (apimachinery's ParseQuantity).
_QUANTITY = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")
# "4GB", "4gb", "16MiB", "4 Gi", "8g": what people type for memory. The same idea as
# sitebox.cluster.quantity, which only offers its fix inside an error message.
_HUMAN_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtpe])(?:i?b|i)?$", re.IGNORECASE)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to ``word``, if one is close enough to be a likely typo."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def is_quantity(text: str) -> bool:
    return _QUANTITY.match(text) is not None


def quantity_fix(text: str) -> str | None:
    """The Kubernetes spelling of a human memory size ('4GB' -> '4Gi'), or None."""
    if is_quantity(text):
        return None
    match = _HUMAN_MEMORY.match(text.strip())
    if match is None:
        return None
    return f"{match.group(1)}{match.group(2).upper()}i"
