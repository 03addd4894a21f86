"""Issue 16's editorial gaps: Publish keeps the reviewer's note and asks for confirmation; an assessment's
date lies between its document's publication and today; dates shown as ISO inside <time>; /favicon.ico;
user text set with dir="auto"."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Assessment, AssessmentTransition, ReviewState
from tests.factories import submit


@pytest.fixture
def submitted(personas):
    return submit(personas.rec, personas.alice, [personas.public_ev], rationale="Alice's rationale.")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- 1. Publish keeps the reviewer's note --------------------------------------------------------------


def test_publish_with_a_comment_keeps_it_on_the_transition(personas, submitted):
    note = "Checked against the CERD decision; the wording of 151(i) is quoted exactly."
    response = _client(personas.carol).post(
        reverse("cases:review-publish", args=[submitted.pk]), {"comment": note, "confirm": "on"}
    )

    assert response.status_code == 302 and response["Location"] == reverse("cases:review-queue")
    submitted.refresh_from_db()
    assert submitted.review_state == ReviewState.PUBLISHED and submitted.reviewer == personas.carol
    last = submitted.transitions.last()
    assert (last.to_state, last.actor, last.comment) == (ReviewState.PUBLISHED, personas.carol, note)
    # A note on publication is not a "returned with this comment" note.
    assert submitted.review_comment == ""


def test_publish_service_takes_an_optional_comment(personas, submitted):
    services.publish_assessment(submitted, reviewer=personas.carol, comment="  Fine.  ")
    assert submitted.transitions.last().comment == "Fine."
    other = submit(personas.rec2, personas.alice, [personas.public_ev])
    services.publish_assessment(other, reviewer=personas.carol)
    assert other.transitions.last().comment == ""


def test_publish_without_confirmation_keeps_the_comment_and_changes_nothing(personas, submitted):
    note = "Good <work>, publishing."
    before = AssessmentTransition.objects.count()
    response = _client(personas.carol).post(
        reverse("cases:review-publish", args=[submitted.pk]), {"comment": note}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The assessment was not published: tick the box to confirm." in page
    assert "Tick “I have checked this assessment” to publish it." in page
    # The typed note is back in this item's comment box (escaped), not lost.
    assert f'id="review-{submitted.pk}-comment"' in page
    assert "Good &lt;work&gt;, publishing.</textarea>" in page
    submitted.refresh_from_db()
    assert submitted.review_state == ReviewState.SUBMITTED and submitted.reviewer is None
    assert AssessmentTransition.objects.count() == before


def test_queue_offers_one_comment_box_for_publish_and_return(personas, submitted):
    page = _client(personas.carol).get(reverse("cases:review-queue")).content.decode()
    item = page[page.index(f'id="review-{submitted.pk}"') :]
    item = item[: item.index("</article>")]  # this item's own form (the bulk form follows the list)
    assert f'action="{reverse("cases:review-publish", args=[submitted.pk])}"' in item
    assert f'formaction="{reverse("cases:review-return", args=[submitted.pk])}"' in item
    assert item.count('name="comment"') == 1
    assert 'type="checkbox" name="confirm"' in item
    assert "I have checked this assessment: publish it" in item


def test_return_still_needs_the_comment(personas, submitted):
    response = _client(personas.carol).post(
        reverse("cases:review-return", args=[submitted.pk]), {"comment": "", "confirm": "on"}
    )
    assert response.status_code == 200
    assert "Say what the author should change." in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.review_state == ReviewState.SUBMITTED


# --- 2. Dates are checked ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day", [datetime.date(1900, 1, 1), datetime.date(2020, 1, 1), datetime.date(2022, 8, 30)]
)
def test_service_refuses_a_date_before_the_recommendation_was_issued(personas, day):
    before = Assessment.objects.count()
    with pytest.raises(ValidationError) as caught:
        submit(personas.rec, personas.alice, [personas.public_ev], assessed_on=day)
    assert "before its recommendation was issued (2022-08-31)" in " ".join(
        caught.value.message_dict["assessed_on"]
    )
    assert Assessment.objects.count() == before


def test_service_accepts_the_issue_date_and_today(personas):
    first = submit(personas.rec, personas.alice, [personas.public_ev], assessed_on=datetime.date(2022, 8, 31))
    second = submit(personas.rec, personas.alice, [personas.public_ev], assessed_on=timezone.localdate())
    assert first.pk and second.pk


def test_resubmission_is_checked_too(personas):
    returned = submit(personas.rec, personas.alice, [personas.public_ev])
    services.return_assessment(returned, reviewer=personas.carol, comment="Which date?")
    with pytest.raises(ValidationError):
        services.resubmit_assessment(returned, author=personas.alice, assessed_on=datetime.date(2020, 1, 1))
    returned.refresh_from_db()
    assert returned.review_state == ReviewState.RETURNED and returned.assessed_on == datetime.date(
        2024, 8, 27
    )


def test_form_shows_the_date_error_on_the_field_and_keeps_the_input(personas):
    from cases.forms import published_marker

    url = reverse("cases:assess", args=[personas.rec.code])
    client = _client(personas.alice)
    assert 'min="2022-08-31"' in client.get(url).content.decode()
    before = Assessment.objects.count()
    response = client.post(
        url,
        {
            "implementation_status": "not_implemented",
            "state_response": "rejected",
            "basis": "independent",
            "assessed_on": "2020-01-01",
            "rationale": "Typed with care <kept>.",
            "evidence": [personas.public_ev.pk],
            "seen": published_marker(personas.rec),
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "before its recommendation was issued" in " ".join(form.errors["assessed_on"])
    page = response.content.decode()
    assert 'value="2020-01-01"' in page and "Typed with care &lt;kept&gt;.</textarea>" in page
    assert Assessment.objects.count() == before


# --- 3. Dates shown unambiguously ----------------------------------------------------------------------


def test_recommendation_page_shows_every_date_as_iso_inside_time(personas):
    import re

    assessment = submit(
        personas.rec, personas.alice, [personas.public_ev], assessed_on=datetime.date(2022, 9, 1)
    )
    services.publish_assessment(assessment, reviewer=personas.carol)
    published = timezone.localtime(assessment.published_at).date().isoformat()

    page = _client(personas.alice).get(reverse("cases:recommendation", args=[personas.rec.code]))
    html = page.content.decode()
    assert '<time datetime="2022-08-31">2022-08-31</time>' in html  # the document's issue
    assert '<time datetime="2022-09-01">2022-09-01</time>' in html  # what the assessment speaks for
    assert f'published <time datetime="{published}">{published}</time> after review by carol' in html
    # The date the status changed is the date the assessment speaks for, not its publication (gap 2).
    assert 'Status last changed on <time datetime="2022-09-01">2022-09-01</time>' in html
    # No US-style month abbreviations ("Sept. 1, 2022") anywhere on the page.
    assert not re.search(r"\b(Jan|Feb|Mar|Apr|May|June|July|Aug|Sept|Oct|Nov|Dec)\.? \d{1,2}, \d{4}", html)
    # Every <time> carries a machine-readable value equal to what it shows, or the date part of it.
    for attr, shown in re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html):
        assert attr.startswith(shown[:10]) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", shown[:10])


def test_isodate_filter():
    from django.utils import translation

    from cases.templatetags.tracker_ui import isodate

    # In a left-to-right language (a request of an earlier test may leave another one active in the thread).
    translation.activate("en")

    assert isodate(None) == ""
    assert isodate(datetime.date(2022, 9, 1)) == '<time datetime="2022-09-01">2022-09-01</time>'
    moment = timezone.make_aware(datetime.datetime(2024, 8, 27, 14, 5, 30))
    assert isodate(moment) == '<time datetime="2024-08-27">2024-08-27</time>'
    local = timezone.localtime(moment)
    assert isodate(moment, "time") == (
        f'<time datetime="{local.isoformat(timespec="minutes")}">2024-08-27 14:05</time>'
    )


# --- 4. Small: the favicon, and user text set with dir="auto" -------------------------------------------


def test_favicon_ico_answers_with_the_static_icon(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg")  # the target exists


UYGHUR = "ئۇيغۇر ئېلىدىكى لاگېرلار"


def test_uyghur_excerpts_and_user_text_are_set_with_dir_auto(personas):
    from tests.factories import make_evidence

    evidence = make_evidence(
        personas.alice, "https://example.org/ug", recommendations=[personas.rec], title=UYGHUR
    )
    evidence.excerpt, evidence.language = UYGHUR, "ug"
    evidence.save(update_fields=["excerpt", "language"])
    assessment = submit(personas.rec, personas.alice, [evidence], rationale=UYGHUR)
    services.publish_assessment(assessment, reviewer=personas.carol)
    client = _client(personas.alice)

    html = client.get(reverse("cases:recommendation", args=[personas.rec.code])).content.decode()
    assert f'<blockquote class="excerpt" lang="ug" dir="auto">{UYGHUR}</blockquote>' in html
    assert f'<div class="assessment__rationale" dir="auto"><p>{UYGHUR}</p></div>' in html
    assert f'dir="auto">{UYGHUR}</a>' in html  # the title, in the timeline and on the evidence card

    html = client.get(reverse("cases:evidence", args=[evidence.pk])).content.decode()
    assert f'<h1 class="evidence-title" dir="auto">{UYGHUR}</h1>' in html
    assert 'class="excerpt excerpt--large" lang="ug" dir="auto"' in html
