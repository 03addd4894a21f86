"""Presentation helpers for the reading pages: status badges, people's names and the dashboard's bar chart."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape as escape
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _

register = template.Library()

# Geometry of the dashboard chart, in SVG user units. The label sits above its bar so that long or
# translated labels never collide with the bars.
CHART_WIDTH = 400
CHART_BAR_MAX = 340
CHART_ROW = 46
CHART_BAR_HEIGHT = 18
CHART_LABEL_BASELINE = 15
CHART_BAR_TOP = 22


@dataclass(frozen=True)
class ChartBar:
    value: str
    label: str
    count: int
    y: int
    label_y: int
    width: int
    x: int
    count_x: int
    count_y: int


@register.filter
def display_name(user) -> str:
    """A person's full name, else their username; never an e-mail address, which may identify them."""
    if user is None:
        return _("a former user")
    return user.get_full_name() or user.get_username()


@register.filter
def isodate(value, precision: str = "date") -> SafeString | str:
    """`{{ day|isodate }}`: a date as `<time datetime="2022-09-01">2022-09-01</time>`, unambiguous in
    every locale (US-style "Sept. 1, 2022" reads as January 9 to many of our readers). A datetime is shown
    as its local date, or with `|isodate:"time"` as local date and minutes; `datetime` keeps the offset."""
    if not value:
        return ""
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        if precision == "time":
            return format_html(
                '<time datetime="{}"{}>{}</time>',
                local.isoformat(timespec="minutes"),
                _ltr_in_rtl(),
                f"{local:%Y-%m-%d %H:%M}",
            )
        value = local.date()
    return format_html('<time datetime="{}"{}>{}</time>', value.isoformat(), _ltr_in_rtl(), value.isoformat())


def _ltr_in_rtl() -> SafeString | str:
    """In a right-to-left language the ISO date is isolated left to right (`dir` on an element isolates it), so
    "2022-09-01" never reads as "01-09-2022". Nothing in a left-to-right language: the markup stays as it was."""
    return mark_safe(' dir="ltr"') if get_language_bidi() else ""


@register.filter
def ltr(value) -> SafeString:
    """`{% blocktranslate with code=recommendation.code|ltr %}`: a code, URL or ISO date isolated left to right
    (`<bdi dir="ltr">`) inside a translated sentence, so it reads the same in a right-to-left one."""
    return format_html('<bdi dir="ltr">{}</bdi>', value)


@dataclass(frozen=True)
class StatusItem:
    kind: str  # "implementation", "response" or "claim": the item's class and what the legend explains
    label: str  # shown before the badge
    value: str  # the machine name: picks the colour
    text: str  # the value's label


@dataclass(frozen=True)
class StatusLabels:
    """The status card's words in the active language, looked up once for a whole list (not per row)."""

    implementation: str
    response: str
    claim: str
    implementation_values: dict[str, str]
    response_values: dict[str, str]

    @classmethod
    def current(cls) -> StatusLabels:
        from cases.models import ImplementationStatus, StateResponse

        return cls(
            _("Implementation"),
            _("State response"),
            _("State claim"),
            {value: str(label) for value, label in ImplementationStatus.choices},
            {value: str(label) for value, label in StateResponse.choices},
        )


def _status_items(obj, labels: StatusLabels | None = None) -> tuple[list[StatusItem], object | None]:
    """What a status card shows for a recommendation or an assessment, and the State claim it cites.

    A recommendation: its implementation status always; its State response when addressed to the State (or
    when it has one); the State's latest claim when that claims an implementation status. An assessment:
    what it says and only that — a finding's implementation status, a State claim's claimed status, a State
    response other than "no response"; "not assessed" only when it says nothing else."""
    from cases.models import (
        Addressee,
        Assessment,
        Basis,
        ImplementationStatus,
        Recommendation,
        StateResponse,
    )

    labels = labels or StatusLabels.current()
    impl_labels = labels.implementation_values
    response_labels = labels.response_values
    items: list[StatusItem] = []
    claim = None
    if isinstance(obj, Recommendation):
        items.append(
            StatusItem(
                "implementation",
                labels.implementation,
                obj.implementation_status,
                impl_labels.get(obj.implementation_status, obj.implementation_status),
            )
        )
        if obj.addressee == Addressee.STATE or obj.state_response != StateResponse.NO_RESPONSE:
            items.append(
                StatusItem(
                    "response", labels.response, obj.state_response, response_labels[obj.state_response]
                )
            )
        claimed = _claim_status(obj)
        if claimed and claimed != ImplementationStatus.NOT_ASSESSED:
            items.append(StatusItem("claim", labels.claim, claimed, impl_labels[claimed]))
            claim = obj.state_claim if Recommendation.state_claim.is_cached(obj) else None
        return items, claim
    if isinstance(obj, Assessment):
        status = obj.implementation_status
        if status != ImplementationStatus.NOT_ASSESSED:
            if obj.basis == Basis.STATE_CLAIM:
                items.append(StatusItem("claim", labels.claim, status, impl_labels[status]))
            else:
                items.append(StatusItem("implementation", labels.implementation, status, impl_labels[status]))
        if obj.state_response != StateResponse.NO_RESPONSE:
            items.append(
                StatusItem(
                    "response", labels.response, obj.state_response, response_labels[obj.state_response]
                )
            )
        if not items:
            kind, label = (
                ("claim", labels.claim)
                if obj.basis == Basis.STATE_CLAIM
                else ("implementation", labels.implementation)
            )
            items.append(StatusItem(kind, label, status, impl_labels[status]))
        return items, None
    raise TypeError(f"no status card for {type(obj).__name__}")


def status_card_html(obj, labels: StatusLabels | None = None) -> SafeString:
    """The status card without the recommendation page's notes, as one string: exactly what
    `{% status_card obj %}` renders (cases/_status_card.html with detail off; tests/test_status_card.py
    compares the two), for lists that show one per row without a template render each."""
    items, _claim = _status_items(obj, labels)
    parts = ['<dl class="status-card">']
    for item in items:
        parts.append(
            f'\n<div class="status-card__item status-card__item--{escape(item.kind)}">'
            f'<dt class="status-card__label">{escape(item.label)}</dt>\n'
            f'<dd class="status-card__value"><span class="badge badge--{escape(item.value)}">'
            f"{escape(item.text)}</span></dd></div>"
        )
    parts.append("\n</dl>\n")
    return mark_safe("".join(parts))  # noqa: S308 -- every value above went through escape()


def _claim_status(recommendation) -> str | None:
    """The implementation status the State's latest claim states, without a query: from the list's
    `claim_status` annotation (RecommendationQuerySet.with_claim_status) or the joined claim. A page that
    provides neither has a query budget that catches it."""
    if recommendation.state_claim_id is None:
        return None
    annotated = getattr(recommendation, "claim_status", None)
    if annotated is not None:
        return annotated
    return recommendation.state_claim.implementation_status


@register.inclusion_tag("cases/_status_card.html")
def status_card(obj, detail: bool = False):
    """`{% status_card recommendation %}` or `{% status_card assessment %}`: the one status card, each
    value with its visible label. `detail` adds the recommendation page's notes (where a value comes from,
    the claim's date and link)."""
    items, claim = _status_items(obj)
    return {"items": items, "detail": detail, "claim": claim}


@register.inclusion_tag("cases/_status_legend.html")
def status_legend():
    """The legend of the status card's colours: every implementation status and State response."""
    from cases.models import ImplementationStatus, StateResponse

    return {
        "implementation": ImplementationStatus.choices,
        "responses": StateResponse.choices,
        "example_claim": ImplementationStatus.PARTIALLY_IMPLEMENTED.label,
    }


@register.inclusion_tag("cases/_status_badge.html")
def badge(obj, field: str, prefix: str = ""):
    """`{% badge recommendation "implementation_status" %}`: a choice field's badge, coloured by value."""
    return {
        "value": getattr(obj, field),
        "label": getattr(obj, f"get_{field}_display")(),
        "prefix": prefix,
    }


@register.inclusion_tag("cases/_bar_chart.html")
def bar_chart(rows, title: str):
    """A horizontal bar chart as inline SVG; `rows` are dicts with `value`, `label` and `count`.

    The geometry is computed here so the SVG needs no script and no `style` attribute (the CSP forbids
    both); colours come from CSS classes named after the choice value. In a right-to-left language (Uyghur) it
    is mirrored: the SVG's direction is rtl, labels start at the right edge, bars grow leftwards from it, and
    each count (a number, isolated left to right) ends just left of its bar."""
    rtl = get_language_bidi()
    rows = list(rows)
    largest = max((row["count"] for row in rows), default=0)
    bars = []
    for index, row in enumerate(rows):
        top = index * CHART_ROW
        width = round(CHART_BAR_MAX * row["count"] / largest) if largest else 0
        # A non-zero count always gets a visible sliver of bar.
        if row["count"] and width < 2:
            width = 2
        bars.append(
            ChartBar(
                value=row["value"],
                label=str(row["label"]),
                count=row["count"],
                y=top + CHART_BAR_TOP,
                label_y=top + CHART_LABEL_BASELINE,
                width=width,
                x=CHART_WIDTH - width if rtl else 0,
                count_x=CHART_WIDTH - width - 8 if rtl else width + 8,
                count_y=top + CHART_BAR_TOP + CHART_BAR_HEIGHT - 4,
            )
        )
    return {
        "bars": bars,
        "title": title,
        "width": CHART_WIDTH,
        "height": max(len(rows), 1) * CHART_ROW,
        "bar_height": CHART_BAR_HEIGHT,
        "track_width": CHART_BAR_MAX,
        "track_x": CHART_WIDTH - CHART_BAR_MAX if rtl else 0,
        "label_x": CHART_WIDTH if rtl else 0,
        "direction": "rtl" if rtl else "ltr",
        "count_anchor": "end" if rtl else "start",
    }
