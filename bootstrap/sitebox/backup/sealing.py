"""What a backup must not hold in clear text, sealed with a passphrase.

scrypt derives a 256-bit key from the passphrase and a random salt; AES-256-GCM
encrypts and authenticates. A wrong passphrase and a changed byte fail the same
way, before anything is used: GCM's tag does not tell them apart, so the error
names both.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sitebox.errors import SiteboxError

# scrypt's cost: 2**15 rounds of 8 blocks take about 0.1 s and 32 MiB, as OWASP
# recommends for interactive use; stored with each archive so it can be raised later.
COST = {"n": 2**15, "r": 8, "p": 1}
MIN_PASSPHRASE = 12


def _key(passphrase: str, salt: bytes, cost: dict[str, int]) -> bytes:
    return Scrypt(salt=salt, length=32, **cost).derive(passphrase.encode())


def seal(plain: bytes, passphrase: str, bound_to: bytes) -> bytes:
    """``plain`` encrypted; ``bound_to`` (the archive's manifest) is authenticated with
    it, so neither can be swapped for another archive's."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise SiteboxError(
            f"the backup passphrase has {len(passphrase)} characters; at least "
            f"{MIN_PASSPHRASE} are needed",
            hint="choose a longer one (a few random words), and keep it apart from the backups",
        )
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_key(passphrase, salt, COST)).encrypt(nonce, plain, bound_to)
    header = {"kdf": "scrypt", **COST, "salt": base64.b64encode(salt).decode(),
              "nonce": base64.b64encode(nonce).decode(), "cipher": "AES-256-GCM"}  # fmt: skip
    return json.dumps(header).encode() + b"\n" + sealed


def unseal(data: bytes, passphrase: str, bound_to: bytes, origin: str) -> bytes:
    try:
        head, _, sealed = data.partition(b"\n")
        header = json.loads(head)
        cost = {k: int(header[k]) for k in ("n", "r", "p")}
        salt, nonce = (base64.b64decode(header[k]) for k in ("salt", "nonce"))
        return AESGCM(_key(passphrase, salt, cost)).decrypt(nonce, sealed, bound_to)
    except InvalidTag:
        raise SiteboxError(
            f"{origin}: the sealed secrets do not open: a wrong passphrase, or the archive "
            "was changed; nothing was applied",
            hint="give the passphrase the backup was made with (--passphrase-file or "
            "SITEBOX_BACKUP_PASSPHRASE); an archive that was changed cannot be used",
        ) from None
    except (ValueError, KeyError, TypeError):
        raise SiteboxError(
            f"{origin}: the sealed secrets are damaged; nothing was applied",
            hint="use another copy of the backup",
        ) from None
