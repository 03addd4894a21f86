"""`manage.py load_dataset FILE`: load one outcome document with its recommendations, themes, evidence and
first assessments from a JSON file. Running it again with the same file changes nothing.

File format (UTF-8 JSON). Every key is required unless marked optional; unknown keys are refused, so a
misspelt key fails loudly instead of being ignored. Any object may carry a "note" (provenance for the human
reader; the loader ignores it). Dates are YYYY-MM-DD; choice values are the machine names of DESIGN.md.

    {
      "format": "accountability-tracker/dataset", "version": 1,
      "document": {"slug", "title", "short_name", "symbol" (optional), "issuing_body", "published_on", "url"},
      "themes": [{"slug", "name", "description" (optional)}],
      "recommendations": [{"code", "paragraph", "position", "addressee", "text",
                           "themes": [theme slug, ...]}],
      "evidence": [{"url", "title", "publisher", "published_on", "kind", "language", "confidentiality",
                    "excerpt" (optional), "archive_url" (optional), "recommendations": [code, ...]}],
      "assessments": [{"recommendations": [code, ...], "basis", "implementation_status", "state_response",
                       "assessed_on", "rationale", "evidence": [evidence url, ...]}]
    }

Themes, codes and URLs referred to must be in the file or already in the database. An assessment entry
stands for one assessment of each recommendation it lists.

How it loads, all in one transaction (any error: nothing is written):
- Rows are matched by natural key: document slug, theme slug (or name), recommendation code, evidence URL.
  A row is saved only when a value differs, so a reload leaves `updated_at` and the history untouched.
- Links (a recommendation's themes, the recommendations a source supports) are only added, never removed:
  a curator's additions survive a reload; removing a link is a curation act in the admin.
- Evidence is created, changed and linked through `services.add_evidence`, `change_evidence` and
  `link_evidence`, held by the default organisation. A reload never loosens an existing source's
  confidentiality, never edits or links a source another organisation holds, and never changes the URL,
  title, excerpt, date or confidentiality of a source a published assessment cites (it says so instead).
- Addresses go through the one validator (`cases.validators`): normalised as the forms store them, refused
  as the forms refuse them (other schemes, control, bidirectional or invisible characters), and lookalike
  or punycode hosts reported as warnings. Titles refuse the same characters.
- Assessments go through the review workflow like anyone's: `submit_assessment` by the system account
  `system-author`, then `publish_assessment` by `system-reviewer` (a curator), so the four-eyes rule, the
  transition rows and the recomputed current status hold for the data set too. An assessment already
  recorded by `system-author` for the same recommendation, basis and date is not recorded again; a published
  one is never edited (the public record is append-only), so a changed rationale is reported, not applied.
- Both system accounts have unusable passwords and no e-mail address: nobody can sign in as them or reset
  their password.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import CommandError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from tracker.accounts.roles import CURATORS, ensure_groups

from . import services
from .models import (
    FROZEN_WHEN_CITED,
    Addressee,
    Assessment,
    Basis,
    Confidentiality,
    Document,
    Evidence,
    EvidenceKind,
    ImplementationStatus,
    IssuingBody,
    Membership,
    Recommendation,
    ReviewState,
    StateResponse,
    Theme,
)
from .validators import host_warnings, normalise_url, validate_plain_text

FORMAT = "accountability-tracker/dataset"
VERSION = 1
SYSTEM_AUTHOR = "system-author"
SYSTEM_REVIEWER = "system-reviewer"

# Confidentiality, least to most restricted: a reload may tighten a source, never loosen it.
_RESTRICTION = {Confidentiality.PUBLIC: 0, Confidentiality.PARTNERS: 1, Confidentiality.INTERNAL: 2}


# --- Reading and checking the file ----------------------------------------------------------------------
# Everything is checked before the first write, so a bad file is reported with its location and the
# database is never touched; model validation (full_clean) still runs on every save as the last line.

Parser = Callable[[Any, str], Any]


def _fail(where: str, message: str) -> CommandError:
    return CommandError(f"{where}: {message}")


def _text(*, blank: bool = False) -> Parser:
    def parse(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise _fail(where, "expected a string.")
        if not blank and not value.strip():
            raise _fail(where, "must not be empty.")
        return value

    return parse


def _plain(*, blank: bool = False) -> Parser:
    """A one-line text such as a title: no control, bidirectional or invisible characters."""
    text = _text(blank=blank)

    def parse(value: Any, where: str) -> str:
        value = text(value, where)
        try:
            validate_plain_text(value)
        except ValidationError as exc:
            raise _fail(where, " ".join(exc.messages)) from None
        return value

    return parse


def _url(*, blank: bool = False) -> Parser:
    """A web address, normalised by the one validator (cases.validators) so it matches what the forms and
    the admin store; refused as they refuse it. Lookalike hosts are reported by the Loader, not refused."""
    text = _text(blank=blank)

    def parse(value: Any, where: str) -> str:
        value = text(value, where)
        if blank and not value.strip():
            return ""
        try:
            return normalise_url(value)
        except ValidationError as exc:
            raise _fail(where, " ".join(exc.messages)) from None

    return parse


def _urls(value: Any, where: str) -> list[str]:
    urls = [_url()(item, f"{where}[{i}]") for i, item in enumerate(_strings(value, where))]
    duplicates = sorted({u for u in urls if urls.count(u) > 1})
    if duplicates:
        raise _fail(where, f"listed twice: {', '.join(duplicates)}.")
    return urls


def _integer(value: Any, where: str) -> int:
    # bool is an int in Python; `true` is not a position.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(where, "expected a whole number, 0 or more.")
    return value


def _date(value: Any, where: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(_text()(value, where))
    except ValueError:
        raise _fail(where, f"{value!r} is not a date in the form YYYY-MM-DD.") from None


def _choice(choices: type[models.TextChoices]) -> Parser:
    def parse(value: Any, where: str) -> str:
        if value not in choices.values:
            raise _fail(where, f"{value!r} is not one of {', '.join(choices.values)}.")
        return value

    return parse


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise _fail(where, "expected a list.")
    items = [_text()(item, f"{where}[{i}]") for i, item in enumerate(value)]
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise _fail(where, f"listed twice: {', '.join(duplicates)}.")
    return items


def _object(value: Any, where: str, required: dict[str, Parser], optional: dict[str, Parser]) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, "expected an object.")
    unknown = set(value) - set(required) - set(optional) - {"note"}
    if unknown:
        raise _fail(where, f"unknown field(s): {', '.join(sorted(unknown))}.")
    missing = [key for key in required if key not in value]
    if missing:
        raise _fail(where, f"missing field(s): {', '.join(missing)}.")
    return {
        key: parse(value[key], f"{where}.{key}")
        for key, parse in {**required, **optional}.items()
        if key in value
    }


def _list(value: Any, where: str, parse_item: Callable[[Any, str], dict]) -> list[dict]:
    if not isinstance(value, list):
        raise _fail(where, "expected a list.")
    return [parse_item(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _unique(items: list[dict], key: str, where: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item[key] in seen:
            raise _fail(f"{where}[{i}].{key}", f"{item[key]!r} appears twice in the file.")
        seen.add(item[key])


DOCUMENT = {
    "slug": _text(),
    "title": _plain(),
    "short_name": _plain(),
    "issuing_body": _choice(IssuingBody),
    "published_on": _date,
    "url": _url(blank=True),
}
THEME = {"slug": _text(), "name": _text()}
RECOMMENDATION = {
    "code": _text(),
    "paragraph": _text(),
    "position": _integer,
    "addressee": _choice(Addressee),
    "text": _text(),
    "themes": _strings,
}
EVIDENCE = {
    "url": _url(),
    "title": _plain(),
    "publisher": _plain(blank=True),
    "published_on": _date,
    "kind": _choice(EvidenceKind),
    "language": _text(),
    "confidentiality": _choice(Confidentiality),
    "recommendations": _strings,
}
ASSESSMENT = {
    "recommendations": _strings,
    "basis": _choice(Basis),
    "implementation_status": _choice(ImplementationStatus),
    "state_response": _choice(StateResponse),
    "assessed_on": _date,
    "rationale": _text(),
    "evidence": _urls,
}


def read_dataset(path: Path) -> dict:
    """The file's content, checked: shapes, choices, dates, duplicates and references. Raises CommandError
    with the location of the first problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"No such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None

    data = _object(
        raw,
        "file",
        {
            "format": _text(),
            "version": _integer,
            "document": lambda v, w: _object(v, w, DOCUMENT, {"symbol": _text(blank=True)}),
            "themes": lambda v, w: _list(
                v, w, lambda i, wi: _object(i, wi, THEME, {"description": _text(blank=True)})
            ),
            "recommendations": lambda v, w: _list(v, w, lambda i, wi: _object(i, wi, RECOMMENDATION, {})),
            "evidence": lambda v, w: _list(
                v,
                w,
                lambda i, wi: _object(
                    i, wi, EVIDENCE, {"excerpt": _text(blank=True), "archive_url": _url(blank=True)}
                ),
            ),
            "assessments": lambda v, w: _list(v, w, lambda i, wi: _object(i, wi, ASSESSMENT, {})),
        },
        {},
    )
    if data["format"] != FORMAT or data["version"] != VERSION:
        raise _fail("file", f"expected format {FORMAT!r} version {VERSION}.")
    _unique(data["themes"], "slug", "themes")
    _unique(data["themes"], "name", "themes")
    _unique(data["recommendations"], "code", "recommendations")
    _unique(data["recommendations"], "paragraph", "recommendations")
    _unique(data["evidence"], "url", "evidence")
    _check_references(data)
    return data


def _check_references(data: dict) -> None:
    themes = {t["slug"] for t in data["themes"]}
    codes = {r["code"] for r in data["recommendations"]}
    urls = {e["url"] for e in data["evidence"]}
    # What the file does not define must already exist: one query per kind, whatever the file's size.
    wanted_themes = {s for r in data["recommendations"] for s in r["themes"]} - themes
    wanted_codes = {
        c for part in ("evidence", "assessments") for e in data[part] for c in e["recommendations"]
    } - codes
    wanted_urls = {u for a in data["assessments"] for u in a["evidence"]} - urls
    themes |= set(Theme.objects.filter(slug__in=wanted_themes).values_list("slug", flat=True))
    codes |= set(Recommendation.objects.filter(code__in=wanted_codes).values_list("code", flat=True))
    urls |= set(Evidence.objects.filter(url__in=wanted_urls).values_list("url", flat=True))

    for i, rec in enumerate(data["recommendations"]):
        for slug in rec["themes"]:
            if slug not in themes:
                raise _fail(f"recommendations[{i}].themes", f"unknown theme {slug!r}.")
    for i, ev in enumerate(data["evidence"]):
        for code in ev["recommendations"]:
            if code not in codes:
                raise _fail(f"evidence[{i}].recommendations", f"unknown recommendation {code!r}.")
    today = timezone.localdate()
    for i, entry in enumerate(data["assessments"]):
        where = f"assessments[{i}]"
        if not entry["recommendations"]:
            raise _fail(f"{where}.recommendations", "name at least one recommendation.")
        if not entry["evidence"]:
            raise _fail(f"{where}.evidence", "an assessment rests on at least one piece of evidence.")
        if entry["assessed_on"] > today:
            raise _fail(f"{where}.assessed_on", "the date an assessment speaks for cannot be in the future.")
        for code in entry["recommendations"]:
            if code not in codes:
                raise _fail(f"{where}.recommendations", f"unknown recommendation {code!r}.")
        for url in entry["evidence"]:
            if url not in urls:
                raise _fail(f"{where}.evidence", f"unknown evidence {url!r}.")


# --- Writing ---------------------------------------------------------------------------------------------


@dataclass
class Tally:
    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    def summary(self) -> str:
        parts = ", ".join(
            f"{kind} {c['created']}/{c['updated']}/{c['unchanged']}" for kind, c in self.counts.items()
        )
        return (
            f"{self.total('created')} created, {self.total('updated')} updated, "
            f"{self.total('unchanged')} unchanged (created/updated/unchanged: {parts})."
        )


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            " ".join(msgs) if name == NON_FIELD_ERRORS else f"{name}: {' '.join(msgs)}"
            for name, msgs in exc.message_dict.items()
        )
    return " ".join(exc.messages)


@contextmanager
def _history_attributed_to(user) -> Iterator[None]:
    """simple-history takes the acting user from the current request, which a command does not have; stand
    one in for the load, as HistoryRequestMiddleware does for a web request, so the admin's history of every
    row the load touches names the account that made the change."""
    context = HistoricalRecords.context
    previous = getattr(context, "request", None)
    context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        if previous is None:
            del context.request
        else:
            context.request = previous


def _sync(instance: models.Model, values: dict[str, Any], where: str) -> bool:
    """Set the values that differ and save only those (plus updated_at); True if anything was saved."""
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(instance, name, values[name])
    _save(instance, where, update_fields=[*changed, "updated_at"])
    return True


def _save(instance: models.Model, where: str, **kwargs) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise _fail(where, _validation_message(exc)) from None
    instance.save(**kwargs)


class Loader:
    """One load, inside the caller's transaction."""

    def __init__(self, data: dict, *, warn: Callable[[str], None]):
        self.data = data
        self.warn = warn
        self.tally = Tally()
        self.organisation = services.default_organisation()

    def run(self) -> Tally:
        self.author, self.reviewer = self.system_accounts()
        with _history_attributed_to(self.author):
            document = self.load_document(self.data["document"])
            themes = self.load_themes(self.data["themes"])
            recommendations = self.load_recommendations(self.data["recommendations"], document, themes)
            evidence = self.load_evidence(self.data["evidence"], recommendations)
            self.load_assessments(self.data["assessments"], recommendations, evidence)
        return self.tally

    # Accounts ------------------------------------------------------------------------------------------

    def system_accounts(self):
        # The groups come with `migrate`; recreating them costs a query per permission, so only when missing.
        curators = Group.objects.filter(name=CURATORS).first()
        if curators is None:
            ensure_groups()
            curators = Group.objects.get(name=CURATORS)
        author = self._system_account(SYSTEM_AUTHOR)
        reviewer = self._system_account(SYSTEM_REVIEWER)
        # The reviewer must pass publish_assessment's curator check; it gets no staff status, so even a
        # usable password would not open the admin.
        if not reviewer.groups.filter(pk=curators.pk).exists():
            reviewer.groups.add(curators)
        return author, reviewer

    def _system_account(self, username: str):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, email="", is_active=True)
            user.set_unusable_password()
            user.save()
            services.set_membership(user, self.organisation)
            self.tally.add("accounts", "created")
            return user
        # Reassert what makes the account safe, in case someone changed it in the admin.
        changed = []
        if user.has_usable_password():
            user.set_unusable_password()
            changed.append("password")
        for name, value in {"email": "", "is_active": True, "is_staff": False, "is_superuser": False}.items():
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed.append(name)
        if changed:
            user.save(update_fields=changed)
            self.warn(f"Account {username!r} was reset to a system account ({', '.join(changed)}).")
        membership = Membership.objects.filter(user=user).select_related("organisation").first()
        if membership is None or membership.organisation_id != self.organisation.pk:
            services.set_membership(user, self.organisation)
            changed.append("organisation")
        self.tally.add("accounts", "updated" if changed else "unchanged")
        return user

    # Document, themes, recommendations -----------------------------------------------------------------

    def _warn_about_hosts(self, where: str, *urls: str) -> None:
        """What the forms show as a warning, the loader reports: a lookalike or punycode host."""
        for url in urls:
            if url:
                for warning in host_warnings(urlsplit(url).hostname or ""):
                    self.warn(f"{where}: {warning}")

    def load_document(self, entry: dict) -> Document:
        self._warn_about_hosts("document", entry["url"])
        values = {
            "title": entry["title"],
            "short_name": entry["short_name"],
            "symbol": entry.get("symbol", ""),
            "issuing_body": entry["issuing_body"],
            "published_on": entry["published_on"],
            "url": entry["url"],
        }
        document = Document.objects.filter(slug=entry["slug"]).first()
        if document is None:
            document = Document(slug=entry["slug"], **values)
            _save(document, "document")
            self.tally.add("document", "created")
        else:
            self.tally.add("document", "updated" if _sync(document, values, "document") else "unchanged")
        return document

    def load_themes(self, entries: list[dict]) -> dict[str, Theme]:
        existing = list(Theme.objects.all())
        by_slug = {t.slug: t for t in existing}
        by_name = {t.name.casefold(): t for t in existing}
        themes: dict[str, Theme] = {}
        for i, entry in enumerate(entries):
            where = f"themes[{i}]"
            values = {"name": entry["name"], "description": entry.get("description", "")}
            # A curator may have created the theme already under another slug: adopt it rather than fail on
            # the unique name, and keep its slug, which filters and bookmarks use.
            theme = by_slug.get(entry["slug"]) or by_name.get(entry["name"].casefold())
            if theme is None:
                theme = Theme(slug=entry["slug"], **values)
                _save(theme, where)
                self.tally.add("themes", "created")
            else:
                self.tally.add("themes", "updated" if _sync(theme, values, where) else "unchanged")
            themes[entry["slug"]] = theme
        return themes

    def load_recommendations(
        self, entries: list[dict], document: Document, themes: dict[str, Theme]
    ) -> dict[str, Recommendation]:
        codes = [e["code"] for e in entries]
        wanted_theme_slugs = {s for e in entries for s in e["themes"]} - set(themes)
        themes = {**themes, **{t.slug: t for t in Theme.objects.filter(slug__in=wanted_theme_slugs)}}
        existing = Recommendation.objects.prefetch_related("themes").in_bulk(codes, field_name="code")
        for i, entry in enumerate(entries):
            where = f"recommendations[{i}] ({entry['code']})"
            values = {
                "document_id": document.pk,
                "paragraph": entry["paragraph"],
                "position": entry["position"],
                "addressee": entry["addressee"],
                "text": entry["text"],
            }
            rec = existing.get(entry["code"])
            wanted = {themes[slug] for slug in entry["themes"]}
            if rec is None:
                rec = Recommendation(code=entry["code"], **values)
                _save(rec, where)
                rec.themes.add(*wanted)
                existing[rec.code] = rec
                self.tally.add("recommendations", "created")
                continue
            changed = _sync(rec, values, where)
            missing = wanted - set(rec.themes.all())
            if missing:
                rec.themes.add(*missing)
                if not changed:
                    # Themes are part of the exported recommendation: incremental sync must see the change.
                    rec.save(update_fields=["updated_at"])
                changed = True
            self.tally.add("recommendations", "updated" if changed else "unchanged")
        # Codes the evidence and assessments refer to that another file loaded.
        referred = {
            c for part in ("evidence", "assessments") for e in self.data[part] for c in e["recommendations"]
        }
        extra = referred - set(existing)
        if extra:
            existing.update(Recommendation.objects.in_bulk(extra, field_name="code"))
        return existing

    # Evidence ------------------------------------------------------------------------------------------

    def load_evidence(
        self, entries: list[dict], recommendations: dict[str, Recommendation]
    ) -> dict[str, Evidence]:
        urls = [e["url"] for e in entries]
        existing = Evidence.objects.prefetch_related("recommendations").in_bulk(urls, field_name="url")
        for i, entry in enumerate(entries):
            where = f"evidence[{i}] ({entry['url']})"
            values = {
                "title": entry["title"],
                "publisher": entry["publisher"],
                "published_on": entry["published_on"],
                "kind": entry["kind"],
                "excerpt": entry.get("excerpt", ""),
                "language": entry["language"],
                "archive_url": entry.get("archive_url", ""),
                "confidentiality": entry["confidentiality"],
            }
            self._warn_about_hosts(where, entry["url"], values["archive_url"])
            linked = [recommendations[code] for code in entry["recommendations"]]
            evidence = existing.get(entry["url"])
            if evidence is None:
                try:
                    evidence = services.add_evidence(
                        added_by=self.author, recommendations=linked, url=entry["url"], **values
                    )
                except ValidationError as exc:
                    raise _fail(where, _validation_message(exc)) from None
                existing[evidence.url] = evidence
                self.tally.add("evidence", "created")
                continue
            if evidence.organisation_id != self.organisation.pk:
                # Its links are the holder's to curate too (services.link_evidence refuses anyone else).
                self.warn(
                    f"{where}: held by another organisation; its fields and links were left as they are."
                )
                self.tally.add("evidence", "unchanged")
                continue
            if _RESTRICTION[evidence.confidentiality] > _RESTRICTION[values["confidentiality"]]:
                self.warn(
                    f"{where}: kept {evidence.confidentiality}; a reload never loosens confidentiality."
                )
                values["confidentiality"] = evidence.confidentiality
            changed = self._change_evidence(evidence, values, where)
            present = {r.pk for r in evidence.recommendations.all()}
            missing = [r for r in linked if r.pk not in present]
            if missing:
                # Through the service, which touches the recommendations for sync only when the source
                # leaves the organisation, and records the audit event.
                services.link_evidence(evidence, missing, by=self.author)
                changed = True
            self.tally.add("evidence", "updated" if changed else "unchanged")
        referred = {u for a in self.data["assessments"] for u in a["evidence"]} - set(existing)
        if referred:
            existing.update(Evidence.objects.in_bulk(referred, field_name="url"))
        return existing

    def _change_evidence(self, evidence: Evidence, values: dict[str, Any], where: str) -> bool:
        """Apply what differs through services.change_evidence. A source a published assessment cites keeps
        its frozen fields (the public record holds): reported, not applied."""
        differs = {name: value for name, value in values.items() if getattr(evidence, name) != value}
        frozen = [name for name in differs if name in FROZEN_WHEN_CITED]
        if frozen and Evidence.objects.filter(pk=evidence.pk).cited_by_published().exists():
            self.warn(
                f"{where}: a published assessment cites this source, so its {', '.join(frozen)} stay as they "
                "are; to correct it, record a new source and a correction."
            )
            for name in frozen:
                del differs[name]
        if not differs:
            return False
        try:
            return bool(services.change_evidence(evidence, by=self.author, **differs))
        except ValidationError as exc:
            raise _fail(where, _validation_message(exc)) from None

    # Assessments ---------------------------------------------------------------------------------------

    def load_assessments(
        self, entries: list[dict], recommendations: dict[str, Recommendation], evidence: dict[str, Evidence]
    ) -> None:
        recorded = {
            (a.recommendation_id, a.basis, a.assessed_on): a
            for a in Assessment.objects.filter(author=self.author).prefetch_related("evidence")
        }
        for i, entry in enumerate(entries):
            cited = [evidence[url] for url in entry["evidence"]]
            for code in entry["recommendations"]:
                where = f"assessments[{i}] ({code})"
                rec = recommendations[code]
                previous = recorded.get((rec.pk, entry["basis"], entry["assessed_on"]))
                if previous is None:
                    self._record(rec, entry, cited, where)
                    self.tally.add("assessments", "created")
                elif previous.review_state == ReviewState.SUBMITTED:
                    # Left unpublished by an interrupted workflow outside this command; finish it.
                    services.publish_assessment(previous, reviewer=self.reviewer)
                    self.tally.add("assessments", "updated")
                else:
                    self._compare(previous, entry, cited, where)
                    self.tally.add("assessments", "unchanged")

    def _record(self, rec: Recommendation, entry: dict, cited: list[Evidence], where: str) -> None:
        try:
            assessment = services.submit_assessment(
                rec,
                author=self.author,
                implementation_status=entry["implementation_status"],
                state_response=entry["state_response"],
                basis=entry["basis"],
                assessed_on=entry["assessed_on"],
                rationale=entry["rationale"],
                evidence=cited,
            )
            services.publish_assessment(assessment, reviewer=self.reviewer)
        except ValidationError as exc:
            raise _fail(where, _validation_message(exc)) from None

    def _compare(self, previous: Assessment, entry: dict, cited: list[Evidence], where: str) -> None:
        differs = [
            name
            for name in ("implementation_status", "state_response", "rationale")
            if getattr(previous, name) != entry[name]
        ]
        if {e.pk for e in previous.evidence.all()} != {e.pk for e in cited}:
            differs.append("evidence")
        if previous.review_state != ReviewState.PUBLISHED:
            self.warn(f"{where}: the recorded assessment is {previous.review_state}; left as it is.")
        elif differs:
            self.warn(
                f"{where}: differs from the published assessment ({', '.join(differs)}); a published "
                "assessment is never edited: record a correction instead."
            )
