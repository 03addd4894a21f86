"""The server-rendered SVG charts laid out right-to-left in Uyghur (issue 11, item 3: "the SVG charts laid out
right-to-left too").

The dashboard's and the public scorecards' bar charts (cases/_bar_chart.html): in Uyghur the bars grow from the
right edge, each label starts at the right edge in the right-to-left direction, and each count sits at the bar's
left end, isolated left to right. English keeps the left-to-right geometry. The numbers come from the SVG itself.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from cases.templatetags.tracker_ui import CHART_WIDTH

pytestmark = pytest.mark.django_db


def charts(html: str) -> list[ET.Element]:
    found = re.findall(r'<svg class="bar-chart".*?</svg>', html, flags=re.S)
    assert len(found) == 2, "the dashboard has two charts"
    return [ET.fromstring(svg) for svg in found]  # noqa: S314 (our own page, rendered by the test client)


def rows(svg: ET.Element):
    """(label, track, bar or None, count) per row, in document order."""
    elements = list(svg)
    result = []
    i = 0
    while i < len(elements):
        label, track = elements[i], elements[i + 1]
        bar = elements[i + 2] if "bar-chart__bar" in elements[i + 2].get("class", "") else None
        count = elements[i + 3] if bar is not None else elements[i + 2]
        result.append((label, track, bar, count))
        i += 4 if bar is not None else 3
    return result


def dashboard(client, personas, language: str) -> str:
    client.force_login(personas.alice)
    response = client.get("/" if language == "en" else f"/{language}/")
    assert response.status_code == 200
    return response.content.decode()


def test_uyghur_charts_grow_from_the_right(client, personas):
    drawn = 0
    for svg in charts(dashboard(client, personas, "ug")):
        assert svg.get("direction") == "rtl"
        for label, track, bar, count in rows(svg):
            # The label begins at the right edge, in the right-to-left direction ("start" is the right there).
            assert float(label.get("x")) == CHART_WIDTH and label.get("text-anchor") == "start"
            # The track and the bar end at the right edge.
            assert float(track.get("x")) + float(track.get("width")) == CHART_WIDTH
            # The count is a number, isolated left to right, ending just left of the bar (or of the edge).
            assert count.get("direction") == "ltr" and count.get("unicode-bidi") == "isolate"
            assert count.get("text-anchor") == "end"
            assert count.text.strip().isdigit()
            if bar is None:
                assert float(count.get("x")) < CHART_WIDTH
                continue
            drawn += 1
            x, width = float(bar.get("x")), float(bar.get("width"))
            assert width > 0 and x + width == CHART_WIDTH
            assert float(count.get("x")) < x
    assert drawn >= 2  # the personas' data draw bars in both charts


def test_english_charts_grow_from_the_left(client, personas):
    drawn = 0
    for svg in charts(dashboard(client, personas, "en")):
        assert svg.get("direction") == "ltr"
        for label, track, bar, count in rows(svg):
            assert float(label.get("x")) == 0 and label.get("text-anchor") == "start"
            assert float(track.get("x")) == 0
            assert count.get("direction") == "ltr" and count.get("text-anchor") == "start"
            if bar is not None:
                drawn += 1
                assert float(bar.get("x")) == 0
                assert float(count.get("x")) > float(bar.get("width"))
    assert drawn >= 2


def test_chinese_charts_are_left_to_right(client, personas):
    for svg in charts(dashboard(client, personas, "zh-hans")):
        assert svg.get("direction") == "ltr"
        assert all(float(track.get("x")) == 0 for _label, track, _bar, _count in rows(svg))


def test_the_same_bar_has_the_same_length_in_both_directions(client, personas):
    def widths(language):
        return [
            (bar.get("class"), bar.get("width"))
            for svg in charts(dashboard(client, personas, language))
            for _label, _track, bar, _count in rows(svg)
            if bar is not None
        ]

    assert widths("ug") == widths("en") != []
