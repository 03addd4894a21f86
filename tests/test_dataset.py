"""The real data set (fixtures/ohchr-xinjiang-2022.json) and `manage.py load_dataset`: what it loads, that a
reload changes nothing, that the recommendations are the report's own words, and that a bad file writes
nothing."""

from __future__ import annotations

import copy
import datetime
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory, TestCase

from cases import services
from cases.models import (
    Assessment,
    AssessmentTransition,
    Basis,
    Confidentiality,
    Document,
    Evidence,
    ImplementationStatus,
    Recommendation,
    ReviewState,
    StateResponse,
    Theme,
)
from tests.factories import PASSWORD, make_user
from tracker.accounts.models import AuditEvent
from tracker.accounts.roles import is_curator

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "ohchr-xinjiang-2022.json"
# CI checks the shared briefing out beside the repository, as ../shared.
SHARED = REPO.parent / "shared"
DATA_FILE = SHARED / "data" / "ohchr-xinjiang-2022.md"
SEEDS = SHARED / "seeds"

REPORT_URL = (
    "https://www.ohchr.org/en/documents/country-reports/"
    "ohchr-assessment-human-rights-concerns-xinjiang-uyghur-autonomous-region"
)
STRAITS_TIMES_URL = "https://www.straitstimes.com/asia/east-asia/un-expert-concludes-forced-labour-has-taken-place-in-xinjiang"
REUTERS_URL = (
    "https://www.reuters.com/world/china/"
    "china-opposes-so-called-xinjiang-related-assessment-by-un-human-rights-office-2022-09-01/"
)
ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii"]
CODES_151 = [f"XJ22-151-{n}" for n in ROMAN]
CODES = [*CODES_151, "XJ22-152-i", "XJ22-152-ii", "XJ22-153-a", "XJ22-153-b"]
THEMES = {
    "Arbitrary detention",
    "Legal framework and counter-terrorism",
    "Torture and ill-treatment",
    "Sexual and gender-based violence",
    "Enforced disappearance and family separation",
    "Forced labour",
    "Religious and cultural rights",
    "Reproductive rights",
    "Reprisals and transnational repression",
    "Accountability and remedy",
}


def load(path: Path = FIXTURE) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_dataset", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fixture_data() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data, name: str = "dataset.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table the load can touch: the domain, its history and m2m tables, and accounts."""
    User = get_user_model()
    models = [*apps.get_app_config("cases").get_models(include_auto_created=True), User, User.groups.through]
    return {m._meta.label: list(m.objects.order_by("pk").values()) for m in models}


def assert_nothing_written() -> None:
    assert not Document.objects.exists()
    assert not Theme.objects.exists()
    assert not Recommendation.objects.exists()
    assert not Evidence.objects.exists()
    assert not Assessment.objects.exists()
    assert not get_user_model().objects.filter(username__startswith="system-").exists()


def verbatim_recommendations() -> dict[str, str]:
    """The recommendation texts as the data file quotes them: the third cell of each `| XJ22-…` table row,
    without its quotation marks, trailing footnotes or the editor's bracketed [sic: …] notes."""
    texts = {}
    for line in DATA_FILE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| XJ22-"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        quoted = re.match(r'"(.+?)"(?=\s|$)', cells[2])
        assert quoted, f"no quoted text in the row for {cells[0]}"
        texts[cells[0]] = re.sub(r" \[sic:[^\]]*\]", "", quoted.group(1))
    return texts


# --- After one load (loaded once per class; each test runs in its own rolled-back savepoint) -------------


class TestLoadedDataSet(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.first_out, cls.first_err = load()

    def setUp(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.tmp = Path(directory.name)

    def test_first_load_creates_the_data_set_and_says_so(self):
        out, err = self.first_out, self.first_err
        assert "77 created, 0 updated, 0 unchanged" in out
        assert "recommendations 17/0/0" in out and "assessments 28/0/0" in out
        assert err == ""
        assert Document.objects.count() == 1
        assert Theme.objects.count() == 10
        assert Recommendation.objects.count() == 17
        assert Evidence.objects.count() == 19
        assert Assessment.objects.count() == 28

    def test_document(self):
        doc = Document.objects.get()
        assert doc.slug == "ohchr-xinjiang-2022"
        assert doc.short_name == "OHCHR Xinjiang assessment 2022"
        assert doc.title == (
            "OHCHR Assessment of human rights concerns in the Xinjiang Uyghur Autonomous Region, "
            "People's Republic of China"
        )
        assert doc.symbol == ""
        assert doc.issuing_body == "ohchr"
        assert doc.published_on == datetime.date(2022, 8, 31)
        assert doc.url == REPORT_URL

    def test_themes_are_the_controlled_vocabulary_with_descriptions(self):
        assert set(Theme.objects.values_list("name", flat=True)) == THEMES
        assert Theme.objects.get(name="Forced labour").slug == "forced-labour"
        assert not Theme.objects.filter(description="").exists()

    def test_seventeen_recommendations_in_report_order_with_addressees(self):
        recs = list(Recommendation.objects.order_by("position"))
        assert [r.code for r in recs] == CODES
        assert [r.paragraph for r in recs[:2]] == ["151(i)", "151(ii)"]
        assert [r.paragraph for r in recs[-4:]] == ["152(i)", "152(ii)", "153(a)", "153(b)"]
        assert {r.addressee for r in recs[:13]} == {"state"}
        assert {r.addressee for r in recs[13:15]} == {"business"}
        assert {r.addressee for r in recs[15:]} == {"international"}
        assert all(r.document.slug == "ohchr-xinjiang-2022" for r in recs)
        assert [t.slug for t in Recommendation.objects.get(code="XJ22-151-vii").themes.all()] == [
            "forced-labour"
        ]

    @pytest.mark.skipif(not DATA_FILE.exists(), reason="../shared/data is not beside the repository")
    def test_recommendation_texts_are_the_reports_own_words(self):
        expected = verbatim_recommendations()
        assert sorted(expected) == sorted(CODES)
        assert dict(Recommendation.objects.values_list("code", "text")) == expected
        # The original grammar stays, the editor's note does not.
        text = Recommendation.objects.get(code="XJ22-152-i").text
        assert "as set out the UN Guiding Principles" in text and "sic" not in text
        assert (
            "urgently repeal all discriminatory laws" in Recommendation.objects.get(code="XJ22-151-iii").text
        )

    def test_statuses_after_load(self):
        status = {r.code: (r.implementation_status, r.state_response) for r in Recommendation.objects.all()}
        not_implemented = {"XJ22-151-iii", "XJ22-151-iv"}
        for code in CODES_151:
            impl = (
                ImplementationStatus.NOT_IMPLEMENTED
                if code in not_implemented
                else ImplementationStatus.NOT_ASSESSED
            )
            assert status[code] == (impl, StateResponse.REJECTED), code
        for code in CODES[13:]:
            assert status[code] == (ImplementationStatus.NOT_ASSESSED, StateResponse.NO_RESPONSE), code
        # The State's latest claim is its 2024 rejection.
        claim = Recommendation.objects.get(code="XJ22-151-i").state_claim
        assert claim.basis == Basis.STATE_CLAIM and claim.assessed_on == datetime.date(2024, 6, 11)

    def test_assessments_are_only_the_ones_the_sources_support(self):
        rows = set(Assessment.objects.values_list("recommendation__code", "basis", "assessed_on"))
        expected = {(code, Basis.STATE_CLAIM, datetime.date(2022, 9, 1)) for code in CODES_151}
        expected |= {(code, Basis.STATE_CLAIM, datetime.date(2024, 6, 11)) for code in CODES_151}
        expected |= {
            (code, Basis.UN_FINDING, datetime.date(2024, 8, 27)) for code in ["XJ22-151-iii", "XJ22-151-iv"]
        }
        assert rows == expected
        first = Assessment.objects.get(
            recommendation__code="XJ22-151-ix", assessed_on=datetime.date(2022, 9, 1)
        )
        assert first.implementation_status == ImplementationStatus.NOT_ASSESSED
        assert first.state_response == StateResponse.REJECTED
        assert [e.url for e in first.evidence.all()] == [REUTERS_URL]
        finding = Assessment.objects.get(recommendation__code="XJ22-151-iv", basis=Basis.UN_FINDING)
        assert "need to be fully investigated" in finding.rationale
        assert [e.publisher for e in finding.evidence.all()] == ["WorldECR"]

    def test_assessments_are_published_through_four_eyes_with_transitions(self):
        User = get_user_model()
        author, reviewer = (
            User.objects.get(username="system-author"),
            User.objects.get(username="system-reviewer"),
        )
        assert set(Assessment.objects.values_list("review_state", "author", "reviewer")) == {
            (ReviewState.PUBLISHED, author.pk, reviewer.pk)
        }
        assert not Assessment.objects.filter(published_at__isnull=True).exists()
        transitions = {
            (t.assessment_id, t.from_state, t.to_state, t.actor_id)
            for t in AssessmentTransition.objects.all()
        }
        expected = set()
        for pk in Assessment.objects.values_list("pk", flat=True):
            expected |= {
                (pk, "", ReviewState.SUBMITTED, author.pk),
                (pk, ReviewState.SUBMITTED, ReviewState.PUBLISHED, reviewer.pk),
            }
        assert transitions == expected

    def test_evidence_is_public_and_held_by_the_default_organisation(self):
        assert set(Evidence.objects.values_list("confidentiality", flat=True)) == {Confidentiality.PUBLIC}
        assert set(Evidence.objects.values_list("organisation", flat=True)) == {
            services.default_organisation().pk
        }
        assert set(Evidence.objects.values_list("language", flat=True)) == {"en"}
        assert not Evidence.objects.filter(published_on__isnull=True).exists()
        report = Evidence.objects.get(url=REPORT_URL)
        assert report.kind == "un_document"
        assert sorted(report.recommendations.values_list("code", flat=True)) == sorted(CODES)
        # Business-only coverage supports only the business recommendations.
        brands = Evidence.objects.get(url__contains="raises-pressure-on-firms")
        assert sorted(brands.recommendations.values_list("code", flat=True)) == ["XJ22-152-i", "XJ22-152-ii"]

    @pytest.mark.skipif(not DATA_FILE.exists(), reason="../shared/data is not beside the repository")
    def test_every_excerpt_is_quoted_verbatim_from_the_data_file_or_a_seed(self):
        sources = [DATA_FILE.read_text(encoding="utf-8")]
        sources += [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
        excerpts = dict(Evidence.objects.exclude(excerpt="").values_list("url", "excerpt"))
        assert len(excerpts) == 11
        for url, excerpt in excerpts.items():
            assert any(excerpt in source for source in sources), url
        seeded = Evidence.objects.filter(url__contains="rferl.org") | Evidence.objects.filter(
            url__contains="wfdd.org"
        )
        seed_text = "".join(sources[1:])
        assert seeded.count() == 2
        assert all(e.excerpt and e.excerpt in seed_text for e in seeded)

    def test_system_accounts_cannot_sign_in(self):
        for username in ("system-author", "system-reviewer"):
            user = get_user_model().objects.get(username=username)
            assert not user.has_usable_password()
            assert not user.check_password("")
            assert not user.is_staff and not user.is_superuser
            assert user.email == ""
            # django-axes wants the request; the sign-in form below is the path a person would take.
            request = RequestFactory().post("/accounts/login/")
            assert authenticate(request, username=username, password="") is None
            response = self.client.post("/accounts/login/", {"login": username, "password": "anything"})
            assert "_auth_user_id" not in self.client.session, username
            assert response.status_code == 200
        # The same form signs in an account with a password, so the refusals above are about the accounts.
        make_user("amina", role="monitor")
        response = self.client.post("/accounts/login/", {"login": "amina", "password": PASSWORD})
        assert response.status_code == 302 and "_auth_user_id" in self.client.session
        assert is_curator(get_user_model().objects.get(username="system-reviewer"))
        assert not is_curator(get_user_model().objects.get(username="system-author"))

    def test_reload_makes_the_system_accounts_safe_again(self):
        reviewer = get_user_model().objects.get(username="system-reviewer")
        reviewer.set_password("someone set this")
        reviewer.is_staff = True
        reviewer.save()
        _out, err = load()
        reviewer.refresh_from_db()
        assert not reviewer.has_usable_password() and not reviewer.is_staff
        assert "system-reviewer" in err

    def test_second_load_changes_nothing(self):
        before = snapshot()
        out, err = load()
        assert "0 created, 0 updated, 77 unchanged" in out
        assert err == ""
        assert snapshot() == before

    def test_second_load_query_budget(self):
        # A no-op reload reads each kind once, whatever the file's size: savepoint; default organisation;
        # Curators group; each system account and its membership (4); the reviewer's group check;
        # document; themes; recommendations + their themes; evidence + their links; the system author's
        # assessments + their evidence; release. A query per row would show up here.
        with self.assertNumQueries(17):
            load()

    def test_reload_updates_only_what_changed(self):
        stamps = dict(Recommendation.objects.values_list("code", "updated_at"))
        history = Recommendation.history.count()
        data = fixture_data()
        data["recommendations"][1]["text"] += " (corrected)"
        data["themes"][0]["description"] = "A new description."
        out, _err = load(write(self.tmp, data))
        assert "2 updated" in out and "recommendations 0/1/16" in out and "themes 0/1/9" in out
        changed = Recommendation.objects.get(code="XJ22-151-ii")
        assert changed.text.endswith(" (corrected)")
        assert changed.updated_at > stamps["XJ22-151-ii"]
        assert Recommendation.history.count() == history + 1
        assert {
            c: t for c, t in Recommendation.objects.values_list("code", "updated_at") if c != "XJ22-151-ii"
        } == {c: t for c, t in stamps.items() if c != "XJ22-151-ii"}

    def test_reload_adds_links_but_never_removes_a_curators_own(self):
        rec = Recommendation.objects.get(code="XJ22-151-xiii")
        curated = Theme.objects.create(name="Cooperation with the UN", slug="cooperation-with-the-un")
        rec.themes.add(curated)
        data = fixture_data()
        data["recommendations"][12]["themes"] = ["accountability-and-remedy"]
        load(write(self.tmp, data))
        assert set(rec.themes.values_list("slug", flat=True)) == {
            "cooperation-with-the-un",
            "accountability-and-remedy",
        }

    def test_reload_never_loosens_confidentiality(self):
        # A source no published assessment cites (a cited one's confidentiality cannot change at all).
        Evidence.objects.filter(url=STRAITS_TIMES_URL).update(confidentiality=Confidentiality.INTERNAL)
        _out, err = load()
        assert Evidence.objects.get(url=STRAITS_TIMES_URL).confidentiality == Confidentiality.INTERNAL
        assert "never loosens confidentiality" in err

    def test_reload_never_rewrites_a_source_a_published_assessment_cites(self):
        stored = Evidence.objects.get(url=REUTERS_URL)
        data = fixture_data()
        entry = next(e for e in data["evidence"] if e["url"] == REUTERS_URL)
        entry.update(title="Rewritten", excerpt="Other words.", publisher="Reuters (corrected)")
        out, err = load(write(self.tmp, data))
        fresh = Evidence.objects.get(pk=stored.pk)
        assert (fresh.title, fresh.excerpt) == (stored.title, stored.excerpt)
        assert fresh.publisher == "Reuters (corrected)"  # not frozen: applied, through the service
        assert "published assessment cites this source, so its title, excerpt stay as they are" in err
        assert "evidence 0/1/18" in out
        assert AuditEvent.objects.filter(
            event="evidence.change", target_id=str(stored.pk), fields__fields=["publisher"]
        ).exists()

    def test_reload_warns_about_lookalike_hosts(self):
        data = fixture_data()
        data["evidence"].append(
            {**data["evidence"][0], "url": "https://\u0430pple.com/news", "recommendations": []}
        )
        _out, err = load(write(self.tmp, data))
        assert Evidence.objects.filter(url="https://\u0430pple.com/news").exists()
        assert "evidence[19] (https://\u0430pple.com/news): The host" in err
        assert "mixes letters" in err

    def test_reload_never_edits_a_published_assessment(self):
        data = fixture_data()
        data["assessments"][2]["rationale"] = "Something else."
        _out, err = load(write(self.tmp, data))
        assert Assessment.objects.count() == 28
        finding = Assessment.objects.get(recommendation__code="XJ22-151-iii", basis=Basis.UN_FINDING)
        assert finding.rationale == fixture_data()["assessments"][2]["rationale"]
        assert "XJ22-151-iii" in err and "record a correction" in err


# --- Loads into a database that already holds something -------------------------------------------------


def test_a_source_another_organisation_holds_is_left_as_it_is():
    mallory = make_user(
        "mallory", role="monitor", organisation=services.get_or_create_organisation("Other NGO")
    )
    services.add_evidence(
        added_by=mallory, url=REUTERS_URL, title="Our notes", confidentiality=Confidentiality.INTERNAL
    )
    _out, err = load()
    held = Evidence.objects.get(url=REUTERS_URL)
    assert (held.title, held.confidentiality, held.organisation.name) == (
        "Our notes",
        "internal",
        "Other NGO",
    )
    assert "held by another organisation" in err
    # Still cited, so the assessment shows that a withheld source exists.
    assert Assessment.objects.filter(evidence=held).count() == 13


def test_a_curators_theme_of_the_same_name_is_adopted_with_its_slug():
    mine = Theme.objects.create(name="forced labour", slug="labour")
    load()
    mine.refresh_from_db()
    assert Theme.objects.count() == 10
    assert (mine.name, mine.slug) == ("Forced labour", "labour")
    assert mine.recommendations.filter(code="XJ22-151-vii").exists()


# --- Bad files -----------------------------------------------------------------------------------------


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        load(tmp_path / "nope.json")
    assert_nothing_written()


def test_invalid_json_is_refused_with_its_position(tmp_path):
    path = write(tmp_path, FIXTURE.read_text(encoding="utf-8")[:5000])
    with pytest.raises(CommandError, match=r"not valid JSON: .* \(line \d+, column \d+\)"):
        load(path)
    assert_nothing_written()


def _broken(mutate):
    data = copy.deepcopy(fixture_data())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("document"), r"file: missing field\(s\): document"),
        (lambda d: d["document"].update(titel="x"), r"document: unknown field\(s\): titel"),
        (
            lambda d: d["recommendations"][3].update(addressee="china"),
            r"recommendations\[3\]\.addressee: 'china'",
        ),
        (
            lambda d: d["evidence"][0].update(published_on="16 Aug 2022"),
            r"evidence\[0\]\.published_on: .*YYYY-MM-DD",
        ),
        (lambda d: d["recommendations"][0]["themes"].append("genocide"), r"unknown theme 'genocide'"),
        (
            lambda d: d["evidence"][0]["recommendations"].append("XJ22-999"),
            r"unknown recommendation 'XJ22-999'",
        ),
        (lambda d: d["assessments"][0]["evidence"].append("https://example.org/x"), r"unknown evidence"),
        (lambda d: d["assessments"][0].update(evidence=[]), r"at least one piece of evidence"),
        (lambda d: d["assessments"][0].update(assessed_on="2999-01-01"), r"cannot be in the future"),
        (lambda d: d["recommendations"].append(dict(d["recommendations"][0])), r"'XJ22-151-i' appears twice"),
        (lambda d: d["recommendations"][0].update(position=True), r"position: expected a whole number"),
        (lambda d: d.update(version=2), r"expected format"),
        (lambda d: d.update(themes={}), r"themes: expected a list"),
        # The one URL and title validator (cases.validators), before anything is written.
        (
            lambda d: d["evidence"][18].update(url="ftp://example.org/statement"),
            r"evidence\[18\]\.url: Only web addresses starting with https://",
        ),
        (
            lambda d: d["evidence"][2].update(url="https://example.org/\u202egpj.exe"),
            r"evidence\[2\]\.url: .*U\+202E",
        ),
        (lambda d: d["evidence"][0].update(title="Report\u200b"), r"evidence\[0\]\.title: .*U\+200B"),
        (lambda d: d["document"].update(title="\u2067OHCHR\u2069"), r"document\.title: .*U\+2067"),
        (
            lambda d: d["evidence"][1].update(url=d["evidence"][0]["url"] + "#top"),
            r"appears twice in the file",
        ),
    ],
)
def test_malformed_content_is_refused_with_its_location(tmp_path, mutate, message):
    with pytest.raises(CommandError, match=message):
        load(write(tmp_path, _broken(mutate)))
    assert_nothing_written()


def test_a_failure_half_way_rolls_back_everything(tmp_path):
    # The document, themes and recommendations are saved before the last source fails model validation
    # (a language tag longer than the column): the whole load must disappear.
    data = _broken(lambda d: d["evidence"][-1].update(language="x" * 40))
    data["assessments"] = []
    url = re.escape(data["evidence"][-1]["url"])
    with pytest.raises(CommandError, match=rf"evidence\[18\] \({url}\): language: .*at most 35"):
        load(write(tmp_path, data))
    assert_nothing_written()


def test_a_failure_in_a_reload_keeps_the_first_load_intact(tmp_path):
    load()
    before = snapshot()
    data = _broken(lambda d: d["recommendations"][0].update(text="Changed."))
    data["evidence"][-1]["language"] = "x" * 40
    with pytest.raises(CommandError, match="language"):
        load(write(tmp_path, data))
    assert snapshot() == before
