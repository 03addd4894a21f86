# ruff: noqa: RUF001, RUF002 -- Uyghur and Chinese letters and punctuation are the point of this module.
"""Finding the same person twice: names in three scripts and many spellings, folded to one Latin form.

- Chinese names: `pypinyin` (lazy_pinyin, no tones), each name part (split on the middle dot) joined.
- Uyghur Arabic script: the Uyghur Latin script (ULY, Uyghur Computer Science Association, 2006). No kept
  library converts it (PyICU has no Uyghur-Latin transform), so the 32-letter table below is the mapping;
  it is the official one, letter for letter.
- Latin spellings: lowercased, accents and ULY's diacritics folded (ë → e, ö → o, ü → u).
- `skeleton`: the consonants alone, so Abdurehim / Abdurahim / Abduréhim meet in search.
- Similarity: `rapidfuzz` (token-set ratio over the folded forms), with birth year, prefecture and external
  references adding or subtracting weight.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

# Uyghur Arabic script → ULY. The hamza carrier ئ only marks a vowel at a syllable's start: it has no sound.
ULY = {
    "ئ": "",
    "ا": "a",
    "ە": "e",
    "ب": "b",
    "پ": "p",
    "ت": "t",
    "ج": "j",
    "چ": "ch",
    "خ": "x",
    "د": "d",
    "ر": "r",
    "ز": "z",
    "ژ": "zh",
    "س": "s",
    "ش": "sh",
    "غ": "gh",
    "ف": "f",
    "ق": "q",
    "ك": "k",
    "گ": "g",
    "ڭ": "ng",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ھ": "h",
    "و": "o",
    "ۇ": "u",
    "ۆ": "ö",
    "ۈ": "ü",
    "ۋ": "w",
    "ې": "ë",
    "ى": "i",
    "ي": "y",
    # Arabic and Persian letter forms keyboards also produce.
    "ه": "h",
    "ی": "y",
}
_ARABIC = re.compile(r"[\u0600-\u06FF]")
_HAN = re.compile(r"[\u3400-\u9FFF]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_VOWELS = re.compile(r"[aeiouy]")


def uyghur_to_latin(text: str) -> str:
    return "".join(ULY.get(ch, ch) for ch in text)


def chinese_to_pinyin(text: str) -> str:
    # Name parts are separated by a middle dot (·, ・, •): each becomes one Latin word.
    parts = re.split(r"[·・•．.\s]+", text)
    return " ".join("".join(lazy_pinyin(part)) for part in parts if part)


# Pure and called for every candidate pair while scoring (an import compares thousands): remembered.
@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Any script to lowercase ASCII words separated by single spaces."""
    text = text or ""
    if _ARABIC.search(text):
        text = uyghur_to_latin(text)
    if _HAN.search(text):
        text = chinese_to_pinyin(text)
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def skeleton(folded: str) -> str:
    """Consonants only, per word: spelling variants of vowels meet."""
    return " ".join(w for w in (_VOWELS.sub("", word) for word in folded.split()) if w)


def names_of(person) -> list[str]:
    names = [person.name_latin, person.name_uyghur, person.name_chinese]
    names += [line.strip() for line in (person.aliases or "").splitlines()]
    return [name for name in names if name and name.strip()]


def search_key(person) -> str:
    """What search and duplicate detection read: each name folded, then its skeleton, one per line."""
    lines: list[str] = []
    for name in names_of(person):
        folded = fold(name)
        for line in (folded, skeleton(folded)):
            if line and line not in lines:
                lines.append(line)
    return "\n".join(lines)


def query_forms(query: str) -> list[str]:
    """The forms a search for `query` looks for in search keys: folded, and its skeleton if long enough."""
    folded = fold(query)
    forms = [folded] if folded else []
    bones = skeleton(folded)
    if len(bones.replace(" ", "")) >= 4 and bones not in forms:
        forms.append(bones)
    return forms


@dataclass(frozen=True)
class Match:
    person: object
    score: int
    reasons: tuple[str, ...]


EXTERNAL_REFS = ("xvdb_entry", "wgeid_ref", "un_communication_ref")
THRESHOLD = 70


def score(candidate_names: list[str], person, *, birth_year=None, prefecture="", refs=None) -> Match | None:
    """How likely `person` is the one described: name similarity (0–100), ±10 for birth year, +5 for the
    same prefecture, 100 for a shared external reference. None below the threshold."""
    reasons: list[str] = []
    refs = refs or {}
    for field in EXTERNAL_REFS:
        value = (refs.get(field) or "").strip()
        if value and value.lower() == (getattr(person, field) or "").strip().lower():
            return Match(person, 100, (field,))
    ours = [fold(n) for n in candidate_names if fold(n)]
    theirs = [line for line in (person.search_key or "").splitlines() if line]
    best = 0.0
    for a in ours:
        for b in theirs:
            best = max(best, fuzz.WRatio(a, b), fuzz.WRatio(skeleton(a), b))
    if best:
        reasons.append("name")
    total = best
    if birth_year and person.birth_year:
        if abs(birth_year - person.birth_year) <= 1:
            total += 10
            reasons.append("birth_year")
        else:
            total -= 10
    if prefecture and person.prefecture and fold(prefecture) == fold(person.prefecture):
        total += 5
        reasons.append("prefecture")
    total = int(min(total, 100))
    if total < THRESHOLD:
        return None
    return Match(person, total, tuple(reasons))
