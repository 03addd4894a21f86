"""The encrypted container every backup file is: authenticated encryption (AES-256-GCM) in chunks.

Layout: the magic `ATBACKUP`, a 4-byte header length, the header (JSON, readable without the key: format,
version, kind, creation time, migrations, key-derivation parameters, a per-file salt), then chunks. Each
chunk is a 4-byte length (its top bit marks the final chunk) and AES-GCM ciphertext of at most 1 MiB of
zlib-compressed content. The key of a file is derived with HKDF from the master key and the file's salt, so
the nonce can be the chunk's counter (and final flag); the header's SHA-256 is every chunk's associated
data. Hence a changed byte anywhere (header, lengths, content), chunks reordered or dropped, a file cut at a
chunk boundary or data after the final chunk are all refused, whatever checksum an attacker recomputes —
which a checksum alone cannot promise.

The master key is `BACKUP_KEY` (32 random bytes, urlsafe base64) or is derived from `BACKUP_PASSPHRASE` with
scrypt (its salt and cost in the header). A key check value in the header (an HMAC of the file key) tells
"wrong key" apart from "tampered".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings

MAGIC = b"ATBACKUP"
FORMAT = "accountability-tracker-backup"
VERSION = 2
CHUNK = 1 << 20
FINAL = 0x8000_0000
MAX_HEADER = 1 << 20
# scrypt at N=2**15, r=8: 32 MiB and about 0.1 s; a header may not ask for more than N=2**20 (1 GiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MAX_SCRYPT_N = 2**20
HKDF_INFO = b"accountability-tracker-backup/2"


class BackupError(Exception):
    """A backup cannot be written or is refused. `reason` is a short code for the audit trail."""

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


def configured_kdf() -> dict:
    """Key-derivation parameters for a new file, from the settings (BACKUP_KEY wins over a passphrase)."""
    if settings.BACKUP_KEY:
        _key_from_setting()
        return {"name": "key"}
    if settings.BACKUP_PASSPHRASE:
        return {"name": "scrypt", "salt": _b64(os.urandom(16)), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
    raise BackupError(
        "No backup key: set BACKUP_KEY (32 random bytes, urlsafe base64) or BACKUP_PASSPHRASE.", "no_key"
    )


def _key_from_setting() -> bytes:
    try:
        key = base64.urlsafe_b64decode(settings.BACKUP_KEY.encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise BackupError(
            "BACKUP_KEY must be 32 bytes in urlsafe base64, e.g. the output of "
            "python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'.",
            "no_key",
        )
    return key


def _master_key(kdf: dict) -> bytes:
    name = kdf.get("name")
    if name == "key":
        if not settings.BACKUP_KEY:
            raise BackupError("This backup was encrypted with a key: set BACKUP_KEY to read it.", "no_key")
        return _key_from_setting()
    if name == "scrypt":
        if not settings.BACKUP_PASSPHRASE:
            raise BackupError(
                "This backup was encrypted with a passphrase: set BACKUP_PASSPHRASE to read it.", "no_key"
            )
        n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
        if not all(isinstance(v, int) and v > 0 for v in (n, r, p)) or n > MAX_SCRYPT_N or r * p > 64:
            raise BackupError("The backup file's key-derivation parameters are out of range.", "damaged")
        return Scrypt(salt=_unb64(kdf["salt"]), length=32, n=n, r=r, p=p).derive(
            settings.BACKUP_PASSPHRASE.encode()
        )
    raise BackupError("The backup file names an unknown key derivation.", "damaged")


def _file_key(master: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO).derive(master)


def _key_check(file_key: bytes) -> str:
    return hmac.new(file_key, b"key check", hashlib.sha256).hexdigest()[:32]


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class Writer:
    """Write an encrypted backup to `path` (mode 0600, through a temporary name, so an interrupted backup
    never leaves a file that looks complete). Use as a context manager; `write()` takes plaintext."""

    def __init__(self, path: str | Path, header: dict, *, level: int = 6):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        salt = os.urandom(16)
        kdf = configured_kdf()
        file_key = _file_key(_master_key(kdf), salt)
        self.header = {
            "format": FORMAT,
            "version": VERSION,
            **header,
            "kdf": kdf,
            "salt": _b64(salt),
            "key_check": _key_check(file_key),
            "cipher": "AES-256-GCM",
            "compression": "zlib",
        }
        self._aead = AESGCM(file_key)
        self._compress = zlib.compressobj(level)
        self._pending = bytearray()
        self._counter = 0
        self.bytes_written = 0
        header_bytes = json.dumps(self.header, sort_keys=True).encode()
        prefix = MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes
        self._aad = hashlib.sha256(prefix).digest()
        # O_EXCL: never follow a planted symlink or reuse someone else's file; 0600 from the first byte.
        self.tmp.unlink(missing_ok=True)
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._out: BinaryIO = os.fdopen(fd, "wb")
        self._emit(prefix)

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self.bytes_written += len(data)

    def _seal(self, plaintext: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter, final), plaintext, self._aad)
        self._counter += 1
        self._emit(struct.pack(">I", len(sealed) | (FINAL if final else 0)) + sealed)

    def write(self, data: bytes) -> None:
        self._pending += self._compress.compress(data)
        while len(self._pending) >= CHUNK:
            self._seal(bytes(self._pending[:CHUNK]), final=False)
            del self._pending[:CHUNK]

    def close(self) -> None:
        self._pending += self._compress.flush()
        while len(self._pending) > CHUNK:
            self._seal(bytes(self._pending[:CHUNK]), final=False)
            del self._pending[:CHUNK]
        self._seal(bytes(self._pending), final=True)
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._out.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_header(src: BinaryIO) -> tuple[dict, bytes]:
    """The header (unauthenticated until the first chunk decrypts) and the bytes it was read from."""
    magic = src.read(len(MAGIC))
    if magic != MAGIC:
        raise BackupError(
            "This is not an Accountability Tracker backup (or it is an old, unencrypted one).", "format"
        )
    raw_length = src.read(4)
    if len(raw_length) != 4:
        raise BackupError("The backup file is truncated.", "truncated")
    (length,) = struct.unpack(">I", raw_length)
    if length > MAX_HEADER:
        raise BackupError("The backup file's header is damaged.", "damaged")
    header_bytes = src.read(length)
    if len(header_bytes) != length:
        raise BackupError("The backup file is truncated.", "truncated")
    try:
        header = json.loads(header_bytes)
    except ValueError as exc:
        raise BackupError("The backup file's header is damaged.", "damaged") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError("This is not an Accountability Tracker backup.", "format")
    if header.get("version") != VERSION:
        raise BackupError(f"Unsupported backup version {header.get('version')!r}.", "format")
    return header, magic + raw_length + header_bytes


def open_backup(path: str | Path) -> tuple[dict, Iterator[bytes]]:
    """The header and an iterator of the decrypted, decompressed content. The iterator raises BackupError on
    the first chunk that does not authenticate, on truncation and on trailing data: consume it fully before
    trusting anything it yielded (`verify` does)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.", "missing")
    src = path.open("rb")
    try:
        header, prefix = read_header(src)
        try:
            file_key = _file_key(_master_key(header.get("kdf") or {}), _unb64(header["salt"]))
        except (KeyError, TypeError, binascii.Error, ValueError) as exc:
            raise BackupError("The backup file's header is damaged.", "damaged") from exc
        if not hmac.compare_digest(_key_check(file_key), str(header.get("key_check", ""))):
            raise BackupError(
                "Wrong key: this backup was encrypted with another BACKUP_KEY or BACKUP_PASSPHRASE.",
                "wrong_key",
            )
    except BaseException:
        src.close()
        raise
    return header, _chunks(src, AESGCM(file_key), hashlib.sha256(prefix).digest())


def _chunks(src: BinaryIO, aead: AESGCM, aad: bytes) -> Iterator[bytes]:
    decompress = zlib.decompressobj()
    counter = 0
    with src:
        while True:
            raw_length = src.read(4)
            if len(raw_length) != 4:
                raise BackupError("The backup file is truncated: its final part is missing.", "truncated")
            (word,) = struct.unpack(">I", raw_length)
            final, length = bool(word & FINAL), word & ~FINAL
            if length > CHUNK + 16:
                raise BackupError("The backup file is damaged or has been tampered with.", "tampered")
            sealed = src.read(length)
            if len(sealed) != length:
                raise BackupError("The backup file is truncated.", "truncated")
            try:
                compressed = aead.decrypt(_nonce(counter, final), sealed, aad)
            except InvalidTag as exc:
                raise BackupError(
                    "The backup file is damaged or has been tampered with: it does not authenticate.",
                    "tampered",
                ) from exc
            counter += 1
            try:
                data = decompress.decompress(compressed)
            except zlib.error as exc:  # authenticated but not zlib: written by something else
                raise BackupError("The backup file's content is damaged.", "damaged") from exc
            if data:
                yield data
            if final:
                break
        if src.read(1):
            raise BackupError(
                "The backup file has data after its end: it has been tampered with.", "tampered"
            )
        if not decompress.eof or decompress.unused_data:
            raise BackupError("The backup file's content is damaged.", "damaged")


def verify(path: str | Path) -> tuple[dict, int]:
    """Authenticate the whole file; return its header and content size."""
    header, chunks = open_backup(path)
    return header, sum(len(c) for c in chunks)
