"""Kubernetes resource quantities as users write them, checked with a helpful error."""

from __future__ import annotations

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([KMGTP]i|[kMGTP])?$")
# "4GB", "4gb", "4 GiB": what people type, none of which Kubernetes accepts.
_HUMAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmMgGtTpP])i?[bB]$")


class QuantityError(ValueError):
    """Not a Kubernetes quantity; the message says what to write instead."""


def memory_bytes(text: str) -> int:
    match = _MEMORY.match(text)
    if match:
        number, unit = match.groups()
        scale = _BINARY.get(unit or "", 0) or _DECIMAL.get(unit or "", 1)
        return int(float(number) * scale)
    human = _HUMAN.match(text)
    if human:
        fix = f"{human.group(1)}{human.group(2).upper()}i"
        raise QuantityError(f"{text!r} is not a Kubernetes quantity; write {fix!r}")
    raise QuantityError(f"{text!r} is not a memory size; write e.g. '64Gi' or '512Mi'")


def cpu_millis(text: str) -> int:
    if re.fullmatch(r"\d+m", text):
        return int(text[:-1])
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * 1000)
    raise QuantityError(f"{text!r} is not a CPU amount; write e.g. '16' or '500m'")
