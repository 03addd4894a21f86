"""The one web-address and title validator. Forms, the admin (through the model fields), the data-set loader
and every later importer use it, so an address is normalised and judged the same way wherever it enters.

`check_url(value) -> (normalised, warnings)` is the entry point for importers: it raises ValidationError for
an address that cannot be recorded and returns warnings (text a person should see, never a refusal) for one
that can be recorded but may not be what it looks like. `normalise_url` is the same without the warnings.

Refused, in addresses and in titles: control characters, the bidirectional overrides, embeddings and
isolates (U+202A to U+202E, U+2066 to U+2069, which make text display in another order than it is stored, so
"exe.txt" can read as "txt.exe"), and invisible characters (U+200B to U+200D, U+2060, U+FEFF), which make two
different strings look the same. In a title the zero-width joiner and non-joiner (U+200C, U+200D) are
accepted between two letters of one non-Latin script: Persian, Arabic, Uyghur and Indic text use them to
shape words, and refusing them would refuse correctly written titles.

Flagged, not refused: hosts written in punycode (`xn--`), hosts that mix scripts within one label (a
Cyrillic "\u0430" in "\u0430pple.com"), and labels written entirely in Latin lookalikes from another script
("\u0440\u0430\u0443\u0440\u0430l"). Scripts come from `unicodedata` character names; Han, Hiragana and Katakana together (Japanese),
Han and Hangul (Korean) and Han and Bopomofo count as one script, as in Unicode TS #39's "highly
restrictive" profile. It is an approximation of TS #39 without a new dependency: it flags the attacks seen
in practice, and a warning costs the user one look, not a refusal.
"""

from __future__ import annotations

import codecs
import unicodedata
from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

URL_MAX = 2000
ALLOWED_SCHEMES = ("http", "https")

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")
JOINERS = frozenset("\u200c\u200d")

# Letters of other scripts that look like Latin letters in common fonts (a subset of TS #39's
# confusables.txt for Cyrillic and Greek, the scripts seen in lookalike-domain attacks).
# Hosts are lowercased before they are checked, so only small letters are listed.
LATIN_LOOKALIKES = frozenset(
    # Cyrillic: a e o p c y x i j s d h palochka q w
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u04bb\u04cf\u051b\u051d"
    # Greek: alpha omicron rho iota tau upsilon nu kappa chi epsilon
    "\u03b1\u03bf\u03c1\u03b9\u03c4\u03c5\u03bd\u03ba\u03c7\u03b5"
)

# Scripts that may share a label: TS #39's "highly restrictive" combinations (Latin may join each).
_SCRIPT_GROUPS = ({"HAN", "HIRAGANA", "KATAKANA"}, {"HAN", "HANGUL"}, {"HAN", "BOPOMOFO"})


def _script(ch: str) -> str | None:
    """The script a letter belongs to, from its Unicode name; None for digits, hyphens and the like."""
    if not unicodedata.category(ch).startswith(("L", "M")):
        return None
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK ", "IDEOGRAPHIC ")):
        return "HAN"
    if name.startswith(("HALFWIDTH KATAKANA", "KATAKANA-HIRAGANA")):
        return "KATAKANA"
    if name.startswith(("COMBINING ", "MODIFIER ")):
        return None  # inherits the script of the letter it follows
    return name.split(" ", 1)[0] or None


def _mixed(scripts: set[str]) -> bool:
    """More than one script in a label, beyond the combinations one language writes together."""
    if len(scripts) <= 1:
        return False
    return not any(scripts <= {"LATIN", *group} for group in _SCRIPT_GROUPS)


# --- Text ----------------------------------------------------------------------------------------------


def _refused_character(value: str, *, joiners_in_words: bool) -> str | None:
    for i, ch in enumerate(value):
        if unicodedata.category(ch) == "Cc":
            return ch
        if ch in BIDI_CONTROLS:
            return ch
        if ch in INVISIBLE:
            if joiners_in_words and ch in JOINERS and _joins_one_script(value, i):
                continue
            return ch
    return None


def _joins_one_script(value: str, i: int) -> bool:
    before = value[i - 1] if i > 0 else ""
    after = value[i + 1] if i + 1 < len(value) else ""
    scripts = {_script(before) if before else None, _script(after) if after else None}
    return len(scripts) == 1 and None not in scripts and "LATIN" not in scripts


def validate_plain_text(value: str) -> None:
    """Refuse control, bidirectional-override and invisible characters in a one-line text such as a title."""
    if not value:
        return
    ch = _refused_character(value, joiners_in_words=True)
    if ch is not None:
        raise ValidationError(
            _(
                "Remove the invisible or direction-changing character U+%(code)04X: it makes the text "
                "look different from what is stored."
            ),
            code="invisible_character",
            params={"code": ord(ch)},
        )


# --- Addresses -----------------------------------------------------------------------------------------


def _normalise_host(host: str) -> str:
    """Lowercase and NFKC (as browsers map a typed host, UTS #46), then check every label converts to
    IDNA. The Unicode form is kept: it is what people read, and the stored addresses already use it."""
    host = unicodedata.normalize("NFKC", host.lower())
    for label in host.rstrip(".").split("."):
        if not label:
            raise ValidationError(_("Enter a valid web address."), code="invalid")
        try:
            label.encode("idna")
        except UnicodeError:
            raise ValidationError(_("Enter a valid web address."), code="invalid") from None
    return host


def normalise_url(value: str) -> str:
    """Return the canonical form of a web address, or raise ValidationError.

    Only http and https are accepted: a source is something a colleague can open in a browser, and other
    schemes (javascript:, data:, file:, ftp:) are either dangerous in a link or unreadable. Whitespace is
    stripped, the scheme and host are lowercased (the host also NFKC-normalised and checked as IDNA), an
    empty path becomes "/" and the fragment is dropped, so the same page is recognised however it was pasted.
    Control, bidirectional and invisible characters are refused anywhere in the address.
    """
    value = (value or "").strip()
    if not value:
        raise ValidationError(_("Enter the source's address."), code="required")
    ch = _refused_character(value, joiners_in_words=False)
    if ch is not None:
        raise ValidationError(
            _(
                "The address contains the invisible or direction-changing character U+%(code)04X; "
                "type or paste it again from the address bar."
            ),
            code="invisible_character",
            params={"code": ord(ch)},
        )
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationError(_("Enter a valid web address."), code="invalid") from None
    scheme = parts.scheme.lower()
    if not scheme or (not parts.netloc and scheme not in ALLOWED_SCHEMES and "." in scheme):
        raise ValidationError(
            _("Enter the full address, starting with https:// or http://."), code="no_scheme"
        )
    if scheme not in ALLOWED_SCHEMES:
        raise ValidationError(
            _(
                "Only web addresses starting with https:// or http:// can be recorded; "
                "“%(scheme)s:” addresses are not accepted."
            ),
            code="scheme",
            params={"scheme": scheme[:20]},
        )
    if parts.username is not None or parts.password is not None:
        # "https://trusted.example@evil.example/" reads as one site and opens another.
        raise ValidationError(
            _("Addresses with a user name or password in them are not accepted."), code="userinfo"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(_("Enter a valid web address."), code="invalid") from None
    host = parts.hostname or ""
    if not host:
        raise ValidationError(_("Enter a valid web address."), code="invalid")
    netloc = f"[{host.lower()}]" if ":" in host else _normalise_host(host)
    if port is not None:
        netloc = f"{netloc}:{port}"
    normalised = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    if len(normalised) > URL_MAX:
        raise ValidationError(
            _("The address is too long (at most %(max)d characters)."),
            code="max_length",
            params={"max": URL_MAX},
        )
    try:
        URLValidator(schemes=list(ALLOWED_SCHEMES))(normalised)
    except ValidationError:
        raise ValidationError(_("Enter a valid web address."), code="invalid") from None
    return normalised


def _decode_label(label: str) -> str | None:
    if not label.startswith("xn--"):
        return label
    try:
        return codecs.decode(label[4:].encode("ascii"), "punycode")
    except (UnicodeError, ValueError):
        return None


def host_warnings(host: str) -> list[str]:
    """What a person should know about a host before trusting a link to it (see the module docstring)."""
    warnings: list[str] = []
    labels = [label for label in host.strip("[]").rstrip(".").split(".") if label]
    decoded = [_decode_label(label) for label in labels]
    if any(label.startswith("xn--") for label in labels):
        shown = ".".join(d if d is not None else label for d, label in zip(decoded, labels, strict=True))
        warnings.append(
            gettext(
                "The address's host is written in punycode (xn--); it reads “%(host)s”. Check that it is "
                "the site you mean."
            )
            % {"host": shown}
        )
    for label in decoded:
        if not label:
            continue
        scripts = {s for s in map(_script, label) if s}
        if _mixed(scripts):
            warnings.append(
                gettext(
                    "The host “%(label)s” mixes letters of different scripts (%(scripts)s): it may imitate "
                    "another site's name."
                )
                % {"label": label, "scripts": ", ".join(sorted(s.title() for s in scripts))}
            )
        elif (
            scripts
            and scripts != {"LATIN"}
            and all(ch in LATIN_LOOKALIKES or not _script(ch) for ch in label)
        ):
            warnings.append(
                gettext(
                    "The host “%(label)s” is written in letters that look Latin but are not: it may imitate "
                    "another site's name."
                )
                % {"label": label}
            )
    return warnings


def check_url(value: str) -> tuple[str, list[str]]:
    """Normalise a web address for recording and say what a person should check: `(normalised, warnings)`.

    Raises ValidationError when the address cannot be recorded (see `normalise_url`); warnings never block.
    """
    normalised = normalise_url(value)
    return normalised, host_warnings(urlsplit(normalised).hostname or "")


def validate_web_address(value: str) -> None:
    """The model fields' validator: the value must already be in normalised form."""
    if value and normalise_url(value) != value:
        raise ValidationError(_("Enter a valid web address."), code="not_normalised")


# --- Fields --------------------------------------------------------------------------------------------


class WebAddressFormField(forms.CharField):
    """A form field that cleans to the normalised address; `warnings` holds what `check_url` flagged."""

    widget = forms.URLInput

    def __init__(self, *, max_length=None, assume_scheme=None, **kwargs):
        # Whitespace around a pasted address is stripped by normalise_url, which enforces the real limit.
        super().__init__(max_length=(max_length or URL_MAX) + 100, **kwargs)
        self.warnings: list[str] = []

    def to_python(self, value):
        value = super().to_python(value)
        self.warnings = []
        if value in self.empty_values:
            return ""
        normalised, self.warnings = check_url(value)
        return normalised


class WebAddressField(models.URLField):
    """A URLField that normalises on clean and refuses what `normalise_url` refuses, in every ModelForm and
    the admin. It deconstructs as a plain URLField: the rule is Python's, the column is the same, and
    migrations stay free of app imports."""

    default_validators = [validate_web_address]

    def clean(self, value, model_instance):
        # Normalised in clean (full_clean, ModelForms), not in to_python: deserialising a backup must
        # restore the stored text exactly.
        if value:
            value = normalise_url(str(value))
        return super().clean(value, model_instance)

    def formfield(self, **kwargs):
        kwargs.pop("assume_scheme", None)
        return super(models.URLField, self).formfield(**{"form_class": WebAddressFormField, **kwargs})

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.URLField", args, kwargs


class PlainTextField(models.CharField):
    """A one-line CharField (titles, names) that refuses control, bidirectional and invisible characters.
    Deconstructs as a CharField for the same reason as WebAddressField."""

    default_validators = [validate_plain_text]

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs


# --- One source, however it was pasted ------------------------------------------------------------------

# Parameters that say where a reader came from, not what the page is: two addresses that differ only in
# these are the same source. (utm_* is matched by prefix.)
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


def canonical_url(url: str) -> str:
    """The form two addresses share when they name the same source; used only to find duplicates, never
    stored (the address is kept as the monitor gave it, normalised by `normalise_url`).

    On top of `normalise_url` (scheme and host lowercased, fragment dropped): http and https count as one,
    the default port (80 for http, 443 for https) is dropped, a trailing slash is dropped (the root stays
    "/"), and tracking parameters (utm_*, fbclid, gclid and the like) are removed; other parameters keep
    their order, as some sites give order a meaning. Raises ValidationError for an address `normalise_url`
    refuses.
    """
    parts = urlsplit(normalise_url(url))
    netloc = parts.netloc
    if parts.port is not None and _DEFAULT_PORTS[parts.scheme] == parts.port:
        netloc = netloc.rpartition(":")[0]
    path = parts.path.rstrip("/") or "/"
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _is_tracking(pair.split("=", 1)[0])
    )
    return urlunsplit(("https", netloc, path, query, ""))


def same_source_prefixes(url: str) -> list[str]:
    """The stored addresses that may share `url`'s canonical form all start with one of these (scheme,
    host with or without its default port, path without its trailing slash): a duplicate check looks up
    these prefixes (an index scan) and compares `canonical_url` on the few rows found."""
    canonical = urlsplit(canonical_url(url))
    path = "" if canonical.path == "/" else canonical.path
    explicit_port = canonical.port is not None  # not a default one: canonical_url dropped those
    prefixes = []
    for scheme, default in _DEFAULT_PORTS.items():
        netlocs = [canonical.netloc] if explicit_port else [canonical.netloc, f"{canonical.netloc}:{default}"]
        prefixes += [f"{scheme}://{netloc}{path}" for netloc in netlocs]
    return prefixes
