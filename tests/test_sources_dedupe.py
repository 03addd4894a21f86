"""One source, one entry (issue 16, gap 5): the same address pasted another way (http, a trailing slash,
tracking parameters) is recognised as the recorded source; what the monitor ticked and typed is not dropped
silently; another organisation's internal source is never revealed by the check.

Personas (tests/factories.py): Alice monitor, Carol curator (one organisation; it holds `public_ev`, at
https://news.example.org/public, and the internal `internal_ev`), Mallory monitor of another organisation.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from cases import services
from cases.models import Confidentiality, Evidence
from cases.validators import canonical_url
from tests.factories import make_evidence
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

VARIANTS = [
    "https://news.example.org/public/",  # trailing slash
    "http://news.example.org/public",  # http
    "https://news.example.org/public?utm_source=newsletter&utm_medium=email",  # tracking parameters
]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def evidence_data(**overrides) -> dict:
    data = {
        "url": "https://www.ohchr.org/en/press-releases/2024/08/update",
        "title": "A second title for the same page",
        "publisher": "Example News",
        "published_on": "2024-08-27",
        "kind": "news",
        "excerpt": "My own quotation from the page.",
        "language": "en",
        "archive_url": "",
        "confidentiality": Confidentiality.PUBLIC,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example.org/public", "https://news.example.org/public"),
        ("https://news.example.org/public/", "https://news.example.org/public"),
        ("http://news.example.org/public", "https://news.example.org/public"),
        ("HTTPS://News.Example.ORG:443/public#top", "https://news.example.org/public"),
        ("http://news.example.org:80/public/", "https://news.example.org/public"),
        ("https://news.example.org/public?utm_source=x&id=7&fbclid=y&gclid=z", "https://news.example.org/public?id=7"),
        ("https://news.example.org", "https://news.example.org/"),
        ("https://news.example.org:8443/public/", "https://news.example.org:8443/public"),
        ("https://news.example.org/public?b=2&a=1", "https://news.example.org/public?b=2&a=1"),
    ],
)  # fmt: skip
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize("typed", VARIANTS)
def test_variant_of_a_recorded_source_makes_no_second_entry_and_links_what_was_ticked(personas, typed):
    p = personas
    before = Evidence.objects.count()
    assert not p.public_ev.recommendations.filter(pk=p.rec2.pk).exists()

    response = client_for(p.alice).post(
        reverse("cases:evidence-new"), evidence_data(url=typed, recommendations=[p.rec2.code])
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:evidence", args=[p.public_ev.pk])
    assert Evidence.objects.count() == before
    assert p.public_ev.recommendations.filter(pk=p.rec2.pk).exists()
    shown = messages_of(response)
    assert "This source was already recorded, so no second entry was made." in shown
    assert "It is now linked to XJ22-152-i." in shown
    # The source had an excerpt: hers is quoted back, not lost without a word, and the stored one stays.
    assert any("Your excerpt was not saved" in m and "My own quotation from the page." in m for m in shown)
    p.public_ev.refresh_from_db()
    assert p.public_ev.excerpt == "A short quotation."
    assert AuditEvent.objects.filter(
        event="evidence.link", actor=p.alice, target_id=str(p.public_ev.pk)
    ).exists()


def test_a_recorded_variant_catches_the_clean_address(personas):
    """The other direction: the stored address carries the slash and tracking parameters."""
    p = personas
    stored = make_evidence(p.alice, "http://press.example.net/report/?utm_campaign=x&fbclid=1")
    response = client_for(p.alice).post(
        reverse("cases:evidence-new"), evidence_data(url="https://PRESS.example.net/report")
    )
    assert response["Location"] == reverse("cases:evidence", args=[stored.pk])
    assert Evidence.objects.filter(url__contains="press.example.net").count() == 1


def test_the_service_refuses_a_canonical_duplicate(personas):
    p = personas
    with pytest.raises(services.DuplicateSource) as caught:
        make_evidence(p.carol, "http://news.example.org:80/public/?gclid=abc")
    assert caught.value.existing.pk == p.public_ev.pk
    assert "url" in caught.value.message_dict


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example.org/public/2",  # another page
        "https://news.example.org/public?id=2",  # a parameter that names another page
        "https://news.example.org/publication",  # a longer path sharing the prefix
    ],
)
def test_a_different_page_is_a_new_entry(personas, url):
    p = personas
    response = client_for(p.alice).post(reverse("cases:evidence-new"), evidence_data(url=url))
    created = Evidence.objects.get(url=url)
    assert response["Location"] == reverse("cases:evidence", args=[created.pk])


def test_her_excerpt_fills_an_empty_one(personas):
    p = personas
    bare = make_evidence(p.alice, "https://bare.example.org/a", excerpt="")
    response = client_for(p.alice).post(
        reverse("cases:evidence-new"), evidence_data(url="http://bare.example.org/a/")
    )
    assert "Your excerpt was added to it." in messages_of(response)
    bare.refresh_from_db()
    assert bare.excerpt == "My own quotation from the page."


def test_from_the_assessment_form_she_returns_with_the_existing_source_chosen(personas):
    p = personas
    url = f"{reverse('cases:evidence-new')}?recommendation={p.rec2.code}&then=assess"
    response = client_for(p.alice).post(url, evidence_data(url=VARIANTS[1], recommendations=[p.rec2.code]))
    assert response["Location"] == f"{reverse('cases:assess', args=[p.rec2.code])}?evidence={p.public_ev.pk}"


def test_another_organisations_visible_source_is_not_relinked_by_her(personas):
    """Mallory sees Alice's organisation's public source but does not hold it: she is told, nothing changes."""
    p = personas
    response = client_for(p.mallory).post(
        reverse("cases:evidence-new"), evidence_data(url=VARIANTS[0], recommendations=[p.rec2.code])
    )
    assert response["Location"] == reverse("cases:evidence", args=[p.public_ev.pk])
    shown = messages_of(response)
    assert any("held by another organisation" in m and "XJ22-152-i" in m for m in shown)
    assert not p.public_ev.recommendations.filter(pk=p.rec2.pk).exists()


@pytest.mark.parametrize(
    "typed",
    [
        "http://news.example.org/internal/",
        "https://news.example.org/internal?utm_source=leak",
        "https://news.example.org/internal",
    ],
)
def test_another_organisations_internal_duplicate_is_not_revealed(personas, typed):
    """Alice's organisation holds an internal source at that address; Mallory may not learn it exists. She
    gets the same neutral refusal as for any address that cannot be recorded: no title, no link, no
    "already recorded", nothing linked, nothing stored (the address is unique, so a second entry cannot be
    made without telling her something)."""
    p = personas
    before = Evidence.objects.count()
    response = client_for(p.mallory).post(
        reverse("cases:evidence-new"), evidence_data(url=typed, recommendations=[p.rec2.code])
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "This address cannot be recorded. If you need it, ask a curator." in page
    assert "Witness statement 7" not in page
    assert "This source was already recorded" not in page and "This source is already recorded" not in page
    assert reverse("cases:evidence", args=[p.internal_ev.pk]) not in page
    assert messages_of(response) == []
    assert Evidence.objects.count() == before
    assert not p.internal_ev.recommendations.filter(pk=p.rec2.pk).exists()
    refusal = AuditEvent.objects.get(event="evidence.duplicate_refused", actor=p.mallory)
    assert refusal.organisation_id == p.other_org.pk  # Mallory's organisation's record, not the holder's
