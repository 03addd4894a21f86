"""Presentation helpers for the reading pages: status badges, people's names and the dashboard's bar chart."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
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
                '<time datetime="{}">{}</time>',
                local.isoformat(timespec="minutes"),
                f"{local:%Y-%m-%d %H:%M}",
            )
        value = local.date()
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.isoformat())


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
    both); colours come from CSS classes named after the choice value."""
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
                count_x=width + 8,
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
    }
