"""Bad input in every form and filter: clear errors, never a 500; Unicode (Uyghur, Chinese) kept exactly.

Property-based (hypothesis): arbitrary text, control characters, over-long values and odd dates are thrown at
the list filters and the forms, as a signed-in monitor would send them.
"""

import datetime

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

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
