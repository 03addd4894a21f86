"""Cleaning one value at a time: header names, multi-value cells, responses, bodies, dates, paragraph numbers,
texts and the codes of imported recommendations. Pure functions, no database.

Codes of imported recommendations (stable and readable, the public lookup key):
    <symbol>-<paragraph>            A/HRC/40/6 ¶ 28.212           → a-hrc-40-6-28-212
    <symbol>-<paragraph>-v<n>       the source gave ¶ 28.1 to a second, different text → a-hrc-40-6-28-1-v2
    <symbol>-t<hash>                no paragraph: the first 10 hex digits of the text's hash
Symbol and paragraph are slugified (lowercase, "/" "." "(" become "-"). A code longer than 50 characters
keeps its end (the paragraph) and shortens the symbol with an 8-digit hash of the whole. A code, once given,
never changes: re-imports match by key, not by code.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import unicodedata
from collections.abc import Iterable

from django.utils.text import slugify

from cases.models import IssuingBody, StateResponse

# The fields an import knows (the FIELD of --map, --set and --filter).
FIELDS = {
    "text": "the recommendation's text",
    "document": "the UN symbol of the document that contains it (A/HRC/40/6, CERD/C/CHN/CO/14-17)",
    "paragraph": "its paragraph number in the document (28.212, 151(i))",
    "recommending_states": "the State(s) that made it (UPR); several, one per line or row",
    "state_under_review": "the State(s) concerned, under review",
    "response": "the State's response: supported/accepted, noted, rejected",
    "themes": "themes, one per line (UHRI's names) or row",
    "affected_persons": "affected persons, one per line",
    "session": "the UPR session (document)",
    "cycle": "the UPR cycle (document)",
    "body": "the issuing body: UPR, CERD, CAT… (document)",
    "document_date": "the document's publication date (YYYY-MM-DD, DD/MM/YYYY or an Excel serial number)",
    "title": "the document's title (new documents)",
    "external_id": "a stable id in the source (UHRI annotation id)",
    "source_url": "where the recommendation is published",
    "response_document": "the symbol of the document that records the responses (A/HRC/40/6/Add.1)",
    "code": "our own code (tracker CSV)",
    "addressee": "state, business, international or un (tracker CSV)",
}
MULTI_VALUE = {"recommending_states", "state_under_review", "themes", "affected_persons"}
DOCUMENT_FIELDS = ("session", "cycle", "body", "document_date", "title")

RESPONSES = {
    "supported": StateResponse.ACCEPTED,
    "accepted": StateResponse.ACCEPTED,
    "accept": StateResponse.ACCEPTED,
    "support": StateResponse.ACCEPTED,
    "noted": StateResponse.NOTED,
    "rejected": StateResponse.REJECTED,
    "no_response": StateResponse.NO_RESPONSE,
    "no response": StateResponse.NO_RESPONSE,
}

BODIES = {
    "upr": IssuingBody.UPR,
    "upr working group": IssuingBody.UPR,
    "universal periodic review": IssuingBody.UPR,
    "working group on the universal periodic review": IssuingBody.UPR,
    "cerd": IssuingBody.CERD,
    "committee on the elimination of racial discrimination": IssuingBody.CERD,
    "cat": IssuingBody.CAT,
    "committee against torture": IssuingBody.CAT,
    "ccpr": IssuingBody.CCPR,
    "human rights committee": IssuingBody.CCPR,
    "cescr": IssuingBody.CESCR,
    "committee on economic, social and cultural rights": IssuingBody.CESCR,
    "cedaw": IssuingBody.CEDAW,
    "committee on the elimination of discrimination against women": IssuingBody.CEDAW,
    "crc": IssuingBody.CRC,
    "committee on the rights of the child": IssuingBody.CRC,
    "crpd": IssuingBody.CRPD,
    "committee on the rights of persons with disabilities": IssuingBody.CRPD,
    "cmw": IssuingBody.CMW,
    "committee on migrant workers": IssuingBody.CMW,
    "ced": IssuingBody.CED,
    "committee on enforced disappearances": IssuingBody.CED,
    "special procedures": IssuingBody.SPECIAL_PROCEDURE,
    "special procedure": IssuingBody.SPECIAL_PROCEDURE,
    "hrc": IssuingBody.HRC,
    "human rights council": IssuingBody.HRC,
    "ohchr": IssuingBody.OHCHR,
}
BODIES.update({value: value for value in IssuingBody.values})

_SPACES = re.compile(r"\s+")
_HEADER_JUNK = re.compile(r"[\s_\-.:/()]+")
_AFFECTED = re.compile(r"affected persons\s*:", re.IGNORECASE)


def header_key(name: object) -> str:
    """A header as compared: case-, space-, underscore- and punctuation-insensitive ("UPR  Position" ==
    "upr_position")."""
    return _HEADER_JUNK.sub("", unicodedata.normalize("NFKC", str(name or "")).casefold())


def clean(value: object) -> str:
    """One cell as text: NFC, whitespace runs (line breaks included) collapsed, trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(value))).strip()


def values(cell: object) -> list[str]:
    """A multi-value cell as a list. UHRI writes one value per line, each prefixed "- "; NGOs write one per
    cell, or several separated by ";" (our own export uses "; ")."""
    if cell is None:
        return []
    if isinstance(cell, list | tuple):
        items: Iterable[object] = cell
    else:
        text = unicodedata.normalize("NFC", str(cell)).replace("\r\n", "\n").replace("\r", "\n")
        multiline = "\n" in text or text.lstrip().startswith("- ")
        items = text.split("\n") if multiline else text.split(";")
    out: list[str] = []
    for item in items:
        item = clean(item)
        if item.startswith("- "):
            item = item[2:].strip()
        elif item == "-":
            item = ""
        if item and item not in out:
            out.append(item)
    return out


def split_affected(theme: str) -> tuple[str, list[str]]:
    """UPR tables sometimes glue "Affected persons:- general" onto a theme name with no separator."""
    parts = _AFFECTED.split(theme, maxsplit=1)
    if len(parts) == 1:
        return theme, []
    return clean(parts[0]), [clean(p) for p in re.split(r"\s*-\s+|\n", parts[1]) if clean(p) not in ("", "-")]


def paragraph(value: object) -> str:
    """ "186.20." → "186.20"; "¶ 28.1" → "28.1"; Excel may hand a number (28.212 as a float): kept as typed."""
    text = clean(value)
    text = re.sub(r"^(¶|para(graph)?\.?)\s*", "", text, flags=re.IGNORECASE)
    return text.rstrip(".").strip()


def response(value: object) -> str | None:
    """The State response's machine name, "" for none given, None when the value means nothing to us."""
    text = clean(value).casefold()
    if not text:
        return ""
    return RESPONSES.get(text)


def body(value: object) -> str | None:
    text = clean(value).casefold()
    if not text:
        return ""
    return BODIES.get(text)


EXCEL_EPOCH = datetime.date(1899, 12, 30)
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%Y/%m/%d")


def date(value: object) -> datetime.date | None:
    """A date from ISO text, day-first text, an Excel serial number or a datetime; None if unreadable."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return EXCEL_EPOCH + datetime.timedelta(days=int(value)) if 1 <= value < 2958466 else None
    text = clean(value)
    if re.fullmatch(r"\d{4,5}(\.\d+)?", text):
        return date(float(text))
    text = text[:10] if re.match(r"\d{4}-\d{2}-\d{2}T", text) else text
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def text_key(text: str) -> str:
    """The text as compared: NFKC, case-folded, whitespace collapsed, trailing full stop dropped."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip().rstrip(".").strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text_key(text).encode()).hexdigest()


def symbol_slug(symbol: str) -> str:
    return slugify(symbol.replace("/", "-").replace(".", "-")) or "doc"


def make_code(symbol: str, paragraph_: str, variant: int, digest: str) -> str:
    """The readable code of an imported recommendation (scheme in the module docstring)."""
    base = symbol_slug(symbol)
    tail = slugify(paragraph_.replace(".", "-").replace("(", "-").replace(")", "")) if paragraph_ else ""
    tail = tail.strip("-") if tail else f"t{digest[:10]}"
    if variant:
        tail = f"{tail}-v{variant + 1}"
    code = f"{base}-{tail}"
    if len(code) > 50:
        short = hashlib.sha256(code.encode()).hexdigest()[:8]
        code = f"{base[: max(1, 50 - len(tail) - 10)]}-{short}-{tail}"[-50:].lstrip("-")
    return code
