"""Bad input in every form and filter: clear errors, never a 500; Unicode (Uyghur, Chinese) kept exactly.

Property-based (hypothesis): arbitrary text, control characters, over-long values and odd dates are thrown at
the list filters and the forms, as a signed-in monitor would send them.
"""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from cases.filters import EvidenceFilter, RecommendationFilter
from cases.models import Assessment, Evidence
from tests.factories import make_personas

ANY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),  # any code point a browser can send
    max_size=400,
)
UNICODE_WORDS = st.sampled_from(
    ["ئۇيغۇر", "新疆维吾尔自治区", "Ürümchi", "تۈرمە", "再教育营", "mixed ئۇيغۇر 新疆 text", "RTL\u200fmark"]
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class BadInputTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.p = make_personas()

    def setUp(self):
        self.client = Client()
        self.client.force_login(self.p.alice)

    @SETTINGS
    @given(
        q=ANY_TEXT,
        status=ANY_TEXT,
        theme=ANY_TEXT,
        document=ANY_TEXT,
        sort=ANY_TEXT,
        page=ANY_TEXT,
    )
    def test_recommendation_list_filters_never_fail(self, q, status, theme, document, sort, page):
        response = self.client.get(
            "/recommendations/",
            {
                "q": q,
                "implementation_status": status,
                "theme": theme,
                "document": document,
                "sort": sort,
                "page": page,
            },
        )
        self.assertLess(response.status_code, 500)
        self.assertIn(response.status_code, (200, 400))

    @SETTINGS
    @given(q=ANY_TEXT, kind=ANY_TEXT, confidentiality=ANY_TEXT, recommendation=ANY_TEXT)
    def test_evidence_list_filters_never_fail(self, q, kind, confidentiality, recommendation):
        response = self.client.get(
            "/evidence/",
            {"q": q, "kind": kind, "confidentiality": confidentiality, "recommendation": recommendation},
        )
        self.assertIn(response.status_code, (200, 400))

    @SETTINGS
    @given(
        rationale=ANY_TEXT,
        assessed_on=st.one_of(ANY_TEXT, st.dates().map(str)),
        status=st.one_of(ANY_TEXT, st.sampled_from(["not_implemented", "regressed"])),
    )
    def test_assessment_form_rejects_bad_input_cleanly(self, rationale, assessed_on, status):
        before = Assessment.objects.count()
        response = self.client.post(
            "/recommendations/XJ22-151-i/assess/",
            {
                "implementation_status": status,
                "state_response": "no_response",
                "basis": "independent",
                "assessed_on": assessed_on,
                "rationale": rationale,
                "evidence": [str(self.p.public_ev.pk)],
            },
        )
        self.assertIn(response.status_code, (200, 302))
        if response.status_code == 200:
            # Re-rendered with errors: nothing was written.
            self.assertEqual(Assessment.objects.count(), before)

    @SETTINGS
    @given(url=ANY_TEXT, title=ANY_TEXT, excerpt=ANY_TEXT, language=ANY_TEXT, published_on=ANY_TEXT)
    def test_evidence_form_rejects_bad_input_cleanly(self, url, title, excerpt, language, published_on):
        before = Evidence.objects.count()
        response = self.client.post(
            "/evidence/new/",
            {
                "url": url,
                "title": title,
                "excerpt": excerpt,
                "language": language,
                "published_on": published_on,
                "kind": "news",
                "confidentiality": "internal",
            },
        )
        self.assertIn(response.status_code, (200, 302))
        if response.status_code == 200:
            self.assertEqual(Evidence.objects.count(), before)

    @SETTINGS
    @given(word=UNICODE_WORDS)
    def test_unicode_is_stored_and_shown_exactly(self, word):
        title = f"Report {word}"
        url = f"https://example.org/{abs(hash(word))}"
        response = self.client.post(
            "/evidence/new/",
            {
                "url": url,
                "title": title,
                "excerpt": word,
                "language": "ug",
                "kind": "news",
                "confidentiality": "public",
            },
        )
        self.assertEqual(
            response.status_code,
            302,
            getattr(response, "context", None) and response.context.get("form").errors,
        )
        evidence = Evidence.objects.get(url=url)
        self.assertEqual(evidence.title, title)
        self.assertEqual(evidence.excerpt, word)
        page = self.client.get(f"/evidence/{evidence.pk}/")
        self.assertContains(page, title)
        found = self.client.get("/evidence/", {"q": word})
        self.assertContains(found, title)

    def test_control_characters_and_overlong_values_get_clear_errors(self):
        response = self.client.post(
            "/evidence/new/",
            {
                "url": "https://example.org/x\x00y",
                "title": "a" * 600,
                "kind": "news",
                "confidentiality": "internal",
                "published_on": "2022-02-30",
            },
        )
        self.assertEqual(response.status_code, 200)
        errors = response.context["form"].errors
        self.assertIn("title", errors)
        self.assertIn("published_on", errors)
        self.assertIn("url", errors)
        self.assertFalse(Evidence.objects.filter(title__startswith="aaaa").exists())
        future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
        response = self.client.post(
            "/recommendations/XJ22-151-i/assess/",
            {
                "implementation_status": "not_implemented",
                "state_response": "no_response",
                "basis": "independent",
                "assessed_on": future,
                "rationale": "x" * 6000,
                "evidence": [str(self.p.public_ev.pk)],
            },
        )
        self.assertEqual(response.status_code, 200)
        errors = response.context["form"].errors
        self.assertIn("assessed_on", errors)
        self.assertIn("rationale", errors)


# --- Hostile values in every parameter of every page (issue 9, finding 8) ------------------------------

HUGE = "99999999999999999999999"
HOSTILE = [HUGE, "-" + HUGE, "-1", "0", "\x00", "a\x00b", "ئۇيغۇر 新疆", "1e309", "9" * 400, "%s%(x)s"]
REC = "XJ22-151-i"


def _filter_params(filterset_class) -> list[str]:
    return list(filterset_class(data={}).form.fields)


# Every query parameter each page reads: the filter sets' fields plus the page's own.
PAGE_PARAMS = [
    *(("/recommendations/", name) for name in [*_filter_params(RecommendationFilter), "sort", "page"]),
    *(("/evidence/", name) for name in [*_filter_params(EvidenceFilter), "page"]),
    ("/", "page"),
    (f"/recommendations/{REC}/assess/", "evidence"),
    ("/evidence/new/", "recommendation"),
    ("/evidence/new/", "then"),
    ("/review/", "page"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "param"), PAGE_PARAMS)
def test_hostile_values_in_every_page_parameter_are_never_a_500(personas, url, param):
    client = Client(raise_request_exception=False)
    client.force_login(personas.carol)
    for value in HOSTILE:
        for values in ([value], [value, str(personas.public_ev.pk)]):
            response = client.get(url, {param: values})
            assert response.status_code in (200, 400), (value, response.status_code)


@pytest.mark.django_db
def test_the_assess_page_ignores_an_oversized_evidence_id_and_keeps_the_real_ones(personas):
    client = Client(raise_request_exception=False)
    client.force_login(personas.alice)
    url = reverse("cases:assess", args=[REC])
    response = client.get(url, {"evidence": [HUGE, str(personas.public_ev.pk)]})
    assert response.status_code == 200
    assert response.context["form"].initial["evidence"] == [personas.public_ev.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["evidence", "other_evidence", "corrects"])
def test_oversized_ids_posted_to_the_assessment_form_are_a_form_error(personas, field):
    client = Client(raise_request_exception=False)
    client.force_login(personas.alice)
    before = Assessment.objects.count()
    for value in (HUGE, "-" + HUGE, "1e309", "\x00"):
        response = client.post(
            reverse("cases:assess", args=[REC]),
            {
                "implementation_status": "not_implemented",
                "state_response": "no_response",
                "basis": "independent",
                "assessed_on": "2024-08-27",
                "rationale": "Still open.",
                field: value,
            },
        )
        assert response.status_code == 200, (value, response.status_code)
        assert response.context["form"].errors
    assert Assessment.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "cases:evidence"),
        ("get", "cases:assessment-resubmit"),
        ("post", "cases:review-publish"),
        ("post", "cases:review-return"),
    ],
)
def test_oversized_ids_in_paths_are_404(personas, method, name):
    client = Client(raise_request_exception=False)
    client.force_login(personas.carol)
    for pk in (int(HUGE), 2**63, 2**63 - 1):
        response = getattr(client, method)(reverse(name, args=[pk]))
        assert response.status_code == 404, (pk, response.status_code)
