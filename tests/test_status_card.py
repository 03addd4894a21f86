"""Issue 16, gap 3: status read at a glance. One status card (cases/_status_card.html) on every page that
shows a status: implementation, State response and State claim each with a visible label, colours that
carry meaning and meet WCAG AA, a legend, and nothing shown where a value does not apply."""

from __future__ import annotations

import colorsys
import datetime
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from cases import services
from cases.models import Basis, ImplementationStatus, StateResponse
from tests.factories import submit
from tests.test_web_read import add_recommendations, get_within_budget

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parents[1] / "static" / "css" / "tracker.css"
CARD = re.compile(r'<dl class="status-card[^"]*">(.*?)</dl>', re.S)
ITEM = re.compile(
    r'<div class="status-card__item status-card__item--(\w+)">\s*<dt class="status-card__label">([^<]+)</dt>'
    r'\s*<dd class="status-card__value">\s*<span class="badge badge--(\w+)">([^<]+)</span>',
    re.S,
)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def publish(recommendation, author, reviewer, evidence, **fields):
    return services.publish_assessment(submit(recommendation, author, evidence, **fields), reviewer=reviewer)


def cards(html: str) -> list[list[tuple[str, str, str, str]]]:
    """Each status card on the page as (kind, visible label, value, text) per item."""
    return [ITEM.findall(card) for card in CARD.findall(html)]


def card_of(html: str, anchor: str) -> list[tuple[str, str, str, str]]:
    """The first status card after `anchor` in the page."""
    return cards(html[html.index(anchor) :])[0]


# --- The card's content --------------------------------------------------------------------------------


def test_list_rows_label_each_status_visibly(personas):
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev], state_response=StateResponse.REJECTED)
    html = _client(p.alice).get("/recommendations/").content.decode()
    row = card_of(html, 'href="/recommendations/XJ22-151-i/"')
    assert row == [
        ("implementation", "Implementation", "not_implemented", "Not implemented"),
        ("response", "State response", "rejected", "Rejected"),
    ]
    # The labels are visible text, not screen-reader-only prefixes.
    assert 'class="visually-hidden">Implementation status' not in html
    assert 'class="visually-hidden">State response' not in html


def test_state_response_is_left_out_where_it_does_not_apply(personas):
    p = personas
    # A recommendation to business enterprises has no State response; one to the State shows "No response".
    html = _client(p.alice).get("/recommendations/").content.decode()
    assert [kind for kind, *_ in card_of(html, 'href="/recommendations/XJ22-152-i/"')] == ["implementation"]
    assert ("response", "State response", "no_response", "No response") in card_of(
        html, 'href="/recommendations/XJ22-151-i/"'
    )


def test_a_finding_without_a_response_shows_no_response_badge(personas):
    p = personas
    finding = publish(p.rec, p.alice, p.carol, [p.public_ev], basis=Basis.UN_FINDING)
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert card_of(html, f'id="assessment-{finding.pk}"') == [
        ("implementation", "Implementation", "not_implemented", "Not implemented")
    ]


def test_a_state_claim_is_labelled_as_a_claim_and_not_assessed_is_omitted(personas):
    p = personas
    rejection = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.NOT_ASSESSED,
        state_response=StateResponse.REJECTED,
        assessed_on=datetime.date(2022, 9, 1),
    )
    claim = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
        assessed_on=datetime.date(2024, 1, 15),
    )
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert card_of(html, f'id="assessment-{rejection.pk}"') == [
        ("response", "State response", "rejected", "Rejected")
    ]
    assert card_of(html, f'id="assessment-{claim.pk}"') == [
        ("claim", "State claim", "implemented", "Fully implemented")
    ]
    # The recommendation's own card: the three facts, the claim dated and linked to its entry.
    current = card_of(html, 'id="status-heading"')
    assert current == [
        ("implementation", "Implementation", "not_assessed", "Not assessed"),
        ("response", "State response", "rejected", "Rejected"),
        ("claim", "State claim", "implemented", "Fully implemented"),
    ]
    assert f'<a href="#assessment-{claim.pk}">Claimed as of <time datetime="2024-01-15">' in html


def test_no_claim_card_item_when_the_latest_claim_assesses_nothing(personas):
    p = personas
    publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.NOT_ASSESSED,
        state_response=StateResponse.REJECTED,
    )
    page = _client(p.alice).get(f"/recommendations/{p.rec.code}/")
    html = page.content.decode()
    assert [kind for kind, *_ in card_of(html, 'id="status-heading"')] == ["implementation", "response"]
    assert "latest claim" not in html and "No claim recorded" not in html
    listing = _client(p.alice).get("/recommendations/").content.decode()
    assert [kind for kind, *_ in card_of(listing, 'href="/recommendations/XJ22-151-i/"')] == [
        "implementation",
        "response",
    ]


def test_list_shows_the_claim_without_extra_queries(client, personas, django_assert_num_queries):
    p = personas
    client.force_login(p.alice)
    recs = add_recommendations(p.document, 12)
    for rec in recs:
        publish(
            rec,
            p.alice,
            p.carol,
            [p.public_ev],
            basis=Basis.STATE_CLAIM,
            implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        )
    # The budget of test_web_read.test_list_query_count_does_not_grow_with_the_page: the claim is joined.
    response = get_within_budget(client, django_assert_num_queries, "/recommendations/", 8)
    html = response.content.decode()
    assert html.count('status-card__item--claim"') == 12
    assert ("claim", "State claim", "partially_implemented", "Partially implemented") in card_of(
        html, 'href="/recommendations/T-000/"'
    )


# --- Every page that shows a status uses the card, and the legend where statuses are listed ------------


def test_every_status_page_uses_the_card(personas):
    p = personas
    published = publish(p.rec, p.alice, p.carol, [p.public_ev], state_response=StateResponse.ACCEPTED)
    mine = submit(p.rec, p.alice, [p.public_ev], rationale="Waiting.")
    alice, carol = _client(p.alice), _client(p.carol)
    pages = {
        "dashboard (latest, own work)": (alice, "/", 2),
        "list": (alice, "/recommendations/", 2),
        "detail (current, timeline)": (alice, f"/recommendations/{p.rec.code}/", 3),
        "evidence (recommendations, citing assessments)": (alice, f"/evidence/{p.public_ev.pk}/", 3),
        "assessment form": (alice, f"/recommendations/{p.rec.code}/assess/", 1),
        "review queue (proposed, current)": (carol, reverse("cases:review-queue"), 2),
    }
    for name, (client, url, at_least) in pages.items():
        html = client.get(url).content.decode()
        assert len(CARD.findall(html)) >= at_least, name
        assert "cases/_status_badge" not in html
    assert published.pk and mine.pk


@pytest.mark.parametrize("url", ["/", "/recommendations/", "/recommendations/XJ22-151-i/"])
def test_legend_explains_every_value(personas, url):
    html = _client(personas.alice).get(url).content.decode()
    legend = html[html.index('id="status-legend"') :]
    legend = legend[: legend.index("</section>")]
    for value in [*ImplementationStatus.values, *StateResponse.values]:
        assert f'badge badge--{value}"' in legend, value
    assert "State claim" in legend


def test_status_badge_partial_is_gone_from_templates():
    templates = Path(__file__).resolve().parents[1] / "templates"
    users = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if re.search(r'\{% badge \S+ "(implementation_status|state_response)"', path.read_text())
    ]
    assert users == []


# --- Colours: distinct, meaningful, WCAG AA ------------------------------------------------------------


def _rules() -> dict[str, dict[str, str]]:
    """`.badge--value` → its declarations (the last rule naming a selector wins, as in the browser)."""
    found: dict[str, dict[str, str]] = {}
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {
            name.strip(): value.strip()
            for name, _, value in (d.partition(":") for d in body.split(";"))
            if value.strip()
        }
        for selector in selectors.split(","):
            match = re.fullmatch(r"\s*\.badge--(\w+)\s*", selector)
            if match:
                found.setdefault(match.group(1), {}).update(declarations)
    return found


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    return tuple(int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4))


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _colours(rule: dict[str, str]) -> tuple[str, str]:
    return rule["color"], rule["background"].split()[0]


VALUES = [*ImplementationStatus.values, *StateResponse.values]


def test_every_status_value_has_its_own_colours_with_aa_contrast():
    rules = _rules()
    pairs = {}
    for value in VALUES:
        assert value in rules, f".badge--{value} has no rule"
        text, background = _colours(rules[value])
        assert re.fullmatch(r"#[0-9a-fA-F]{3,6}", text) and re.fullmatch(r"#[0-9a-fA-F]{3,6}", background)
        assert _contrast(text, background) >= 4.5, value
        # The badge's edge is visible against the white page card (non-text contrast 3:1, or a filled badge).
        pairs[value] = (text.lower(), background.lower())
    assert len(set(pairs.values())) == len(VALUES), "two status values share their colours"


def _hue(hex_colour: str) -> float:
    h, _l, s = colorsys.rgb_to_hls(*_rgb(hex_colour))
    return h * 360 if s > 0.15 else -1.0  # greys have no hue


def test_not_implemented_and_rejected_are_not_two_reds():
    rules = _rules()
    reds = []
    for value in ("not_implemented", "rejected"):
        text, background = _colours(rules[value])
        hue = _hue(background) if _hue(background) >= 0 else _hue(text)
        reds.append(hue >= 0 and (hue < 20 or hue > 340))
    assert reds == [True, False]


def test_chart_bars_use_the_same_meaning_as_the_badges():
    css = CSS.read_text()
    for value in VALUES:
        if value in ("not_assessed", "no_response"):
            continue
        assert re.search(rf"\.bar--{value}\b[^{{]*\{{", css), value
    rejected = re.search(r"\.bar--rejected\s*\{\s*fill:\s*(#[0-9a-fA-F]{6})", css)
    hue = _hue(rejected.group(1)) if rejected else 0
    assert rejected and not (0 <= hue < 20 or hue > 340)
