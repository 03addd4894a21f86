"""What a file is and how its text is encoded.

Sniffing looks at the bytes, never the file name: a ZIP container is an XLSX workbook, a first character
"[" or "{" is JSON, anything else must decode as text. Encoding, in order: a byte-order mark (UTF-8, UTF-16
and UTF-32, as Excel writes them); the whole file decoding as UTF-8; UTF-16 without a mark (every other
byte zero); then charset-normalizer's guess. Among the single-byte guesses it finds equally plausible it
often names a cousin (cp1250 for Windows-1252, mac_iceland for Mac Roman), which turns "São" into "Său",
and it cannot tell Windows-1252 from Mac Roman in a short file: when it proposes a Western single-byte
encoding, we choose between those two, what Excel writes on Windows and macOS, by which one reads as text. The preview shows sample rows as stored so mojibake is visible, and
`--encoding` overrides the guess.
"""

from __future__ import annotations

import codecs
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.utils.translation import gettext as _

SAMPLE = 2 * 1024 * 1024
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


class BadFile(ValueError):
    """The file is not what it claims to be, or cannot be read at all. The message says why, for a user."""


@dataclass(frozen=True)
class Sniffed:
    kind: str  # "xlsx", "json" or "text"
    encoding: str  # "" for XLSX (the container says)
    detected: bool  # False when the user gave --encoding


def sniff(path: Path, encoding: str | None = None) -> Sniffed:
    with open(path, "rb") as f:
        head = f.read(SAMPLE)
    if not head.strip():
        raise BadFile(_("The file is empty."))
    if head.startswith(b"PK\x03\x04"):
        return Sniffed("xlsx", "", False)
    if head.startswith((b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\x1f\x8b", b"GIF8", b"\xff\xd8\xff")):
        raise BadFile(
            _("This is not a CSV, XLSX or JSON file (an old .xls workbook, a PDF, an image or an archive?).")
        )
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise BadFile(_("Unknown encoding “%(e)s”.") % {"e": encoding}) from None
        chosen, detected = encoding, False
    else:
        chosen, detected = detect(path, head), True
    text_head = head[:4096].decode(chosen, errors="replace").lstrip("\ufeff \t\r\n")
    kind = "json" if text_head[:1] in ("[", "{") else "text"
    if kind == "text" and "\x00" in text_head:
        raise BadFile(_("The file holds binary data, not text: it is not a CSV file."))
    return Sniffed(kind, chosen, detected)


def detect(path: Path, head: bytes) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if _is_utf8(path):
        return "utf-8"
    sample = head[:4000]
    if len(sample) >= 4:
        odd_zeros = sample[1::2].count(0) / (len(sample) / 2)
        even_zeros = sample[0::2].count(0) / (len(sample) / 2)
        if odd_zeros > 0.4 and even_zeros < 0.05:
            return "utf-16-le"
        if even_zeros > 0.4 and odd_zeros < 0.05:
            return "utf-16-be"
    from charset_normalizer import from_bytes

    matches = from_bytes(head)
    if not matches:
        raise BadFile(_("The file's encoding could not be recognised: give it with --encoding."))
    names = [m.encoding for m in matches]
    western = ("cp1250", "cp1252", "cp1257", "cp1258", "latin_1", "iso8859_15")
    if any(n in western or n.startswith("mac_") for n in names):
        return _windows_or_mac(head)
    return names[0]


# Typographic quotes, dashes, ellipsis, guillemets and the euro sign: common in text, not symbols.
_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00ab\u00bb\u20ac"


def _windows_or_mac(data: bytes) -> str:
    """Windows-1252 or Mac Roman, whichever reads more like Western text: a non-ASCII character should be
    a lowercase letter or typographic punctuation, not an uppercase letter inside a word or a symbol."""
    scores = {}
    for name in ("cp1252", "mac_roman"):
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            scores[name] = float("-inf")  # Windows-1252 leaves five bytes undefined
            continue
        score, previous = 0, " "
        for char in text:
            if ord(char) > 127:
                if char.islower() or char in _PUNCTUATION:
                    score += 1
                elif (char.isupper() and previous.islower()) or unicodedata.category(char)[0] in "SC":
                    score -= 1
            previous = char
        scores[name] = score
    return max(scores, key=lambda n: (scores[n], n == "cp1252"))


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    """The file as text for the csv module: newline="" keeps line breaks inside quoted cells, and the csv
    module itself ends rows at LF, CRLF or a lone CR."""
    raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed with the wrapper
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
