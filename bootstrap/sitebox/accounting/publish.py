"""The message in the outgoing queue of APEL's SSM client, and the certificate it signs with.

sitebox does not send anything itself: `ssmsend` (github.com/apel/ssm), the tool every
APEL site runs, signs each message with the site's certificate and sends it. Its
`[messaging] path` is, by default (`path_type: dirq`), a python-dirq QueueSimple, which
it walks element by element: lock, get, send, remove (ssm/ssm2.py, send_all). The
on-disk form, from dirq's QueueSimple documentation:

* intermediate folders named by 8 hex digits: the insertion time in seconds, rounded
  down to the granularity (60 s by default);
* one file per message, named by 14 hex digits: seconds (8), microseconds (5) and one
  random digit; written under a `.tmp` suffix, then hard-linked to its name and the
  temporary removed, so a reader never sees half a message;
* a consumer locks an element by hard-linking it to NAME.lck, and removes both.

Idempotence: before adding, the queue is searched for messages of the same site, submit
host and month. An identical one is left as it is and nothing is added; a different one
(an earlier run, fewer jobs) is locked the way ssmsend locks and removed, then the new
one is added. A message ssmsend holds locked at that moment is being sent and is left;
the repository replaces a month's records when they arrive again (apel.py).
"""

from __future__ import annotations

import errno
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sitebox.accounting import apel
from sitebox.errors import SiteboxError

GRANULARITY = 60  # dirq QueueSimple's default
_FOLDER = re.compile(r"^[0-9a-f]{8}$")
_ELEMENT = re.compile(r"^[0-9a-f]{14}$")
_SAME_MONTH = ("Site", "Month", "Year", "SubmitHost")


def check_certificate(cert: Path, key: Path, now: float | None = None) -> str:
    """The certificate's subject, once cert and key are what ssmsend can sign with:
    both PEM, the key not encrypted (ssmsend has no passphrase to give), the pair
    matching (ssm/crypto.py, check_cert_key), and the certificate in its validity."""
    fix = "give the site's host certificate and key (e.g. /etc/grid-security/hostcert.pem and hostkey.pem), as PEM"  # noqa: E501
    for path, what in ((cert, "certificate"), (key, "key")):
        if not path.is_file():
            reason = "is a folder" if path.is_dir() else "not found"
            raise SiteboxError(f"{what} {path}: {reason}", hint=fix)
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    except (ValueError, OSError) as exc:
        raise SiteboxError(
            f"certificate {cert} is not a PEM certificate ({exc})", hint=fix
        ) from None
    try:
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except TypeError:
        raise SiteboxError(
            f"key {key} is encrypted; ssmsend cannot unlock it",
            hint=f"write it unencrypted, readable by the sender only: "
            f"openssl pkey -in {key} -out hostkey.pem && chmod 600 hostkey.pem",
        ) from None
    except (ValueError, OSError) as exc:
        raise SiteboxError(f"key {key} is not a PEM private key ({exc})", hint=fix) from None
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(pem, spki) != private.public_key().public_bytes(
        pem, spki
    ):
        raise SiteboxError(
            f"key {key} does not belong to certificate {cert}",
            hint="give the key the certificate was issued for",
        )
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise SiteboxError(
            f"certificate {cert} is not valid now (valid "
            f"{certificate.not_valid_before_utc:%Y-%m-%d} to "
            f"{certificate.not_valid_after_utc:%Y-%m-%d})",
            hint="renew the host certificate; the repository refuses messages it signs",
        )
    return certificate.subject.rfc4514_string()


@dataclass(frozen=True)
class Queued:
    """What ``enqueue`` did: the element now holding the month, and those it replaced."""

    element: str | None  # None: nothing to send (no records)
    unchanged: bool
    replaced: tuple[str, ...]


def _elements(queue: Path) -> list[str]:
    if not queue.is_dir():
        return []
    found = []
    for folder in sorted(p for p in queue.iterdir() if _FOLDER.match(p.name) and p.is_dir()):
        found += [
            f"{folder.name}/{f.name}" for f in sorted(folder.iterdir()) if _ELEMENT.match(f.name)
        ]
    return found


def _identity(text: str) -> set[tuple[str, ...]]:
    """The (site, month, year, submit host) of each record of a summary message."""
    header, parsed = apel.parse(text)
    if not header.startswith("APEL-summary-job-message"):
        return set()
    return {tuple(r.get(k, "") for k in _SAME_MONTH) for r in parsed}


def _take(queue: Path, element: str) -> bool:
    """Lock an element as a dirq consumer does and remove it; False if another process
    (ssmsend sending it) holds it."""
    path = queue / element
    lock = path.with_name(path.name + ".lck")
    try:
        os.link(path, lock)
    except FileExistsError:
        return False
    except FileNotFoundError:
        return True  # already gone
    path.unlink(missing_ok=True)
    lock.unlink(missing_ok=True)
    return True


def _add(queue: Path, text: str) -> str:
    """Add one element the way QueueSimple.add does: temporary file, hard link, unlink."""
    now = int(time.time())
    folder = queue / f"{now - now % GRANULARITY:08x}"
    folder.mkdir(parents=True, exist_ok=True)
    digit = random.randrange(16)  # noqa: S311 - a name's tie-breaker, not a secret

    def name() -> str:
        moment = time.time()
        return f"{int(moment):08x}{int((moment % 1) * 1_000_000):05x}{digit:01x}"

    while True:
        temporary = folder / f"{name()}.tmp"
        try:
            with temporary.open("x", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            break
        except FileExistsError:
            continue
    while True:
        final = folder / name()
        try:
            os.link(temporary, final)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                continue
            raise
        temporary.unlink()
        return f"{folder.name}/{final.name}"


def enqueue(queue: Path, text: str) -> Queued:
    """Put a month's message in ssmsend's outgoing queue, replacing an earlier one of the
    same month (see the module's docstring)."""
    if queue.exists() and not queue.is_dir():
        raise SiteboxError(
            f"outgoing queue {queue} is a file",
            hint="give the folder of ssmsend's [messaging] path (e.g. /var/spool/apel/outgoing)",
        )
    mine = _identity(text)
    if not mine:
        return Queued(None, False, ())
    try:
        queue.mkdir(parents=True, exist_ok=True)
        kept: str | None = None
        replaced = []
        for element in _elements(queue):
            try:
                existing = (queue / element).read_text(encoding="utf-8")
            except (FileNotFoundError, UnicodeDecodeError):
                continue  # sent meanwhile, or not a message of ours
            if not _identity(existing) & mine:
                continue
            if existing == text and kept is None:
                kept = element
            elif _take(queue, element):
                replaced.append(element)
        if kept is not None:
            return Queued(kept, True, tuple(replaced))
        return Queued(_add(queue, text), False, tuple(replaced))
    except PermissionError as exc:
        raise SiteboxError(
            f"cannot write to the outgoing queue {queue}: {exc.strerror}",
            hint="run as the user ssmsend runs as (often apel), or give --outgoing a "
            "folder you may write",
        ) from None
