"""The public record's own history: the correction log, permalinks, the citation of an assessment and the
status image shared with a link.

What is shown comes from access.py (`published_changes`, `published_corrections`,
`get_published_assessment`): published assessments only, cited sources by clearance (the public: `public`
only), never an account's name. The model records no separate reason for a correction and no retraction of
evidence (evidence cited by a published assessment is frozen, cases.models.FROZEN_WHEN_CITED): a correction
is a published assessment naming the published one it corrects (`corrects`); its own rationale says why.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, get_language_bidi, to_locale
from django.utils.translation import gettext as _

from .models import Assessment, Basis, ImplementationStatus, StateResponse


def public_site_on() -> bool:
    """`PUBLIC_SITE=1` turns the public pages, the correction log and the public feeds on (off by default)."""
    return bool(getattr(settings, "PUBLIC_SITE", False))


def require_public_site() -> None:
    """A 404, as for any address that does not exist, while the public site is off."""
    if not public_site_on():
        raise Http404


# --- Permalinks ----------------------------------------------------------------------------------------


def assessment_permalink(pk: int) -> str:
    """`/public/assessments/<id>/` in the current language: a published assessment never changes, so this
    address always shows the same words (a correction gets its own, and both link to each other)."""
    return reverse("public_feeds:assessment", args=[pk])


def recommendation_permalink(code: str) -> str:
    """`/public/recommendations/<code>/` in the current language (the public recommendation page), derived
    from the status image's address beside it, so it is the same path whichever module serves the page."""
    return reverse("public_feeds:status-svg", args=[code]).removesuffix("status.svg")


def recommendation_share(request, recommendation) -> dict:
    """The link-preview metadata of a public recommendation page, for
    `{% include "public/corrections_share_meta.html" %}` in its <head>: title (code and status), the start
    of its text, its permanent address and its status image."""
    from .templatetags.tracker_ui import _status_items

    items, _claim = _status_items(recommendation)
    url = request.build_absolute_uri(recommendation_permalink(recommendation.code))
    return {
        "title": f"{recommendation.code} — " + "; ".join(f"{item.label}: {item.text}" for item in items),
        "description": recommendation.text[:300],
        "url": url,
        "image": url + "status.png",
        "locale": to_locale(get_language()),
    }


# --- What a correction changed -------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass
class CorrectionEntry:
    """One line of the correction log: the correcting assessment, the one it corrects, what differs."""

    correction: Assessment
    corrected: Assessment
    changes: list[Change] = field(default_factory=list)
    sources_added: list = field(default_factory=list)
    sources_dropped: list = field(default_factory=list)

    @property
    def recommendation(self):
        return self.correction.recommendation


def _status_label(assessment: Assessment) -> str:
    return (
        _("Claimed implementation status")
        if assessment.basis == Basis.STATE_CLAIM
        else _("Implementation status")
    )


def describe_correction(correction: Assessment) -> CorrectionEntry:
    """What the correction changed against the version it corrects: the implementation status (the
    State's claimed status when either is a State claim), the State response, the basis and the date it
    speaks for, and the sources (only those the query's viewer may see: `visible_evidence` on both)."""
    old = correction.corrects
    impl = dict(ImplementationStatus.choices)
    response = dict(StateResponse.choices)
    basis = dict(Basis.choices)
    changes: list[Change] = []
    if old.implementation_status != correction.implementation_status:
        label = (
            _("Claimed implementation status")
            if Basis.STATE_CLAIM in (old.basis, correction.basis)
            else _("Implementation status")
        )
        changes.append(
            Change(label, str(impl[old.implementation_status]), str(impl[correction.implementation_status]))
        )
    if old.state_response != correction.state_response:
        changes.append(
            Change(
                _("State response"),
                str(response[old.state_response]),
                str(response[correction.state_response]),
            )
        )
    if old.basis != correction.basis:
        changes.append(Change(_("Basis"), str(basis[old.basis]), str(basis[correction.basis])))
    if old.assessed_on != correction.assessed_on:
        changes.append(
            Change(_("Assessed on"), old.assessed_on.isoformat(), correction.assessed_on.isoformat())
        )
    old_sources = getattr(old, "visible_evidence", [])
    new_sources = getattr(correction, "visible_evidence", [])
    old_ids = {e.pk for e in old_sources}
    new_ids = {e.pk for e in new_sources}
    return CorrectionEntry(
        correction=correction,
        corrected=old,
        changes=changes,
        sources_added=[e for e in new_sources if e.pk not in old_ids],
        sources_dropped=[e for e in old_sources if e.pk not in new_ids],
    )


def status_summary(assessment: Assessment) -> str:
    """One line: what an assessment says (for titles, descriptions and citations)."""
    impl = dict(ImplementationStatus.choices)
    parts = [f"{_status_label(assessment)}: {impl[assessment.implementation_status]}"]
    if assessment.state_response != StateResponse.NO_RESPONSE:
        parts.append(f"{_('State response')}: {dict(StateResponse.choices)[assessment.state_response]}")
    return "; ".join(parts)


# --- Citing --------------------------------------------------------------------------------------------


_BIBTEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
}


def _bibtex_escape(text: str) -> str:
    return "".join(_BIBTEX_SPECIALS.get(char, char) for char in text)


@dataclass(frozen=True)
class Citation:
    plain: str
    bibtex: str
    csl_json: str
    retrieved: datetime.date


def cite_assessment(assessment: Assessment, url: str, *, retrieved: datetime.date | None = None) -> Citation:
    """How to cite one published assessment: plain text, BibTeX (`@misc`, biblatex's `urldate`) and
    CSL-JSON (type `webpage`), each with the date it was retrieved (today, unless given). The author is the
    tracker itself: no account's name leaves the organisation."""
    retrieved = retrieved or timezone.localdate()
    site = _("Accountability Tracker")
    code = assessment.recommendation.code
    title = _("Assessment of recommendation %(code)s as of %(date)s") % {
        "code": code,
        "date": assessment.assessed_on.isoformat(),
    }
    published = timezone.localtime(assessment.published_at).date()
    summary = status_summary(assessment)
    plain = _(
        "%(site)s. “%(title)s” (%(summary)s). Published %(published)s. %(url)s (retrieved %(retrieved)s)."
    ) % {
        "site": site,
        "title": title,
        "summary": summary,
        "published": published.isoformat(),
        "url": url,
        "retrieved": retrieved.isoformat(),
    }
    key = f"tracker-assessment-{assessment.pk}"
    bibtex = "\n".join(
        [
            f"@misc{{{key},",
            f"  author = {{{{{_bibtex_escape(site)}}}}},",
            f"  title = {{{_bibtex_escape(title)}}},",
            f"  year = {{{published.year}}},",
            f"  date = {{{published.isoformat()}}},",
            f"  note = {{{_bibtex_escape(summary)}}},",
            f"  url = {{{url}}},",
            f"  urldate = {{{retrieved.isoformat()}}},",
            f"  language = {{{get_language()}}},",
            "}",
        ]
    )
    csl = {
        "id": key,
        "type": "webpage",
        "title": title,
        "author": [{"literal": site}],
        "container-title": site,
        "issued": {"date-parts": [[published.year, published.month, published.day]]},
        "accessed": {"date-parts": [[retrieved.year, retrieved.month, retrieved.day]]},
        "URL": url,
        "note": summary,
        "language": get_language(),
    }
    return Citation(
        plain=plain,
        bibtex=bibtex,
        csl_json=json.dumps(csl, ensure_ascii=False, indent=2),
        retrieved=retrieved,
    )


# --- The status image ----------------------------------------------------------------------------------

# The status card's colours (static/css/tracker.css, .badge--*): text, background, border.
BADGE_COLOURS = {
    "not_assessed": ("#37424a", "#eceff1", "#8a96a1"),
    "not_implemented": ("#8a1c14", "#fde8e6", "#d9786d"),
    "partially_implemented": ("#6b4500", "#fff2d3", "#c9a24a"),
    "implemented": ("#17603a", "#e2f3e9", "#6fb58d"),
    "regressed": ("#ffffff", "#6b1d5e", "#6b1d5e"),
    "no_response": ("#4f5962", "#ffffff", "#8a96a1"),
    "accepted": ("#0b4f63", "#ddf1f6", "#5fa9bf"),
    "noted": ("#3d3780", "#ecebfa", "#9993d6"),
    "rejected": ("#ffffff", "#3b3f45", "#3b3f45"),
}
SVG_WIDTH = 1200
SVG_HEIGHT = 630


@dataclass(frozen=True)
class SvgRow:
    label: str
    text: str
    y: int
    fill: str
    background: str
    border: str


def status_image_context(recommendation) -> dict:
    """The geometry and words of a recommendation's status image (1200 x 630, the size link previews use):
    its code, its document, and each line of its status card with the card's colours. Presentation
    attributes only (no `style`), so the strict CSP holds if the image is opened on its own."""
    from .templatetags.tracker_ui import _status_items

    items, _claim = _status_items(recommendation)
    rows = []
    for index, item in enumerate(items):
        fill, background, border = BADGE_COLOURS.get(item.value, BADGE_COLOURS["not_assessed"])
        rows.append(SvgRow(str(item.label), str(item.text), 250 + index * 110, fill, background, border))
    rtl = get_language_bidi()
    return {
        "recommendation": recommendation,
        "rows": rows,
        "width": SVG_WIDTH,
        "height": SVG_HEIGHT,
        "rtl": rtl,
        "start_x": SVG_WIDTH - 60 if rtl else 60,
        "anchor": "end" if rtl else "start",
        "language": get_language(),
        "site": _("Accountability Tracker"),
    }
