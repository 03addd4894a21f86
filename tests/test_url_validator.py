"""The one web-address and title validator (cases/validators.py): what it normalises, refuses and flags, and
that every way in (the evidence form, the admin's model form, the model's full_clean, the data-set loader)
uses it."""

import pytest
from django.core.exceptions import ValidationError

from cases.models import Document, Evidence
from cases.validators import check_url, normalise_url, validate_plain_text

RLO = "\u202e"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.ORG", "https://example.org/"),
        (" http://example.org/a/B?x=1&y=2#frag ", "http://example.org/a/B?x=1&y=2"),
        ("HTTPS://example.org:8443/path", "https://example.org:8443/path"),
        ("https://[2001:DB8::1]/x", "https://[2001:db8::1]/x"),
        ("https://例え.テスト/パス", "https://例え.テスト/パス"),
        # Fullwidth letters are what a browser opens as ASCII (UTS #46 mapping).
        ("https://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org/", "https://example.org/"),
        ("https://Straße.de/", "https://straße.de/"),
    ],
)
def test_normalises(raw, expected):
    assert normalise_url(raw) == expected
    assert check_url(raw) == (expected, [])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("javascript:alert(1)", "scheme"),
        ("ftp://x.org/", "scheme"),
        ("example.org/x", "no_scheme"),
        ("https://user:pw@example.org/", "userinfo"),
        (f"https://example.org/{RLO}fdp.exe", "invisible_character"),
        ("https://exa\u200bmple.org/", "invisible_character"),
        ("https://example.org/\u200d", "invisible_character"),
        ("https://example.org/\u2060x", "invisible_character"),
        ("https://\ufeffexample.org/", "invisible_character"),
        ("https://example.org/\u2066x\u2069", "invisible_character"),
        ("https://example.org/\u202ax", "invisible_character"),
        ("https://example.org/a\x07b", "invisible_character"),
        ("https://example.org/a\x00b", "invisible_character"),
        ("https://exa mple.org/", "invalid"),
        ("https://" + "a" * 64 + ".org/", "invalid"),
        ("https://example.org/" + "x" * 2000, "max_length"),
    ],
)
def test_refuses(raw, code):
    with pytest.raises(ValidationError) as info:
        check_url(raw)
    assert info.value.code == code


def test_a_refusal_names_the_character_without_echoing_it():
    with pytest.raises(ValidationError) as info:
        normalise_url(f"https://example.org/{RLO}gpj.exe")
    message = info.value.messages[0]
    assert "U+202E" in message
    assert RLO not in message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("https://\u0430pple.com/", "mixes letters"),  # Cyrillic a, Latin pple
        ("https://p\u0430yp\u0430l.com/login", "mixes letters"),
        ("https://\u0430\u0440\u0440\u04cf\u0435.com/", "look Latin"),  # all Cyrillic lookalikes
        ("https://xn--80ak6aa92e.com/", "punycode"),  # the same host, as punycode
        ("https://\u03bf\u03c1\u03b5\u03bd.org/", "look Latin"),  # Greek omicron rho epsilon nu
    ],
)
def test_flags_lookalike_hosts_without_refusing_them(raw, fragment):
    normalised, warnings = check_url(raw)
    assert normalised.startswith("https://")
    assert any(fragment in w for w in warnings), warnings


def test_punycode_warning_shows_what_the_host_reads():
    _url, warnings = check_url("https://xn--80ak6aa92e.com/")
    assert "\u0430\u0440\u0440\u04cf\u0435.com" in warnings[0]
    assert len(warnings) == 2  # punycode, and the decoded label imitates Latin


@pytest.mark.parametrize(
    "raw",
    [
        "https://пример.рф/",  # Russian, letters that do not all imitate Latin
        "https://例え.テスト/パス",  # Han + Hiragana + Katakana: one Japanese label set
        "https://코리아.kr/",
        "https://www.ohchr.org/en/documents",
        "https://مثال.إختبار/",
    ],
)
def test_ordinary_hosts_are_not_flagged(raw):
    assert check_url(raw)[1] == []


@pytest.mark.parametrize(
    "title",
    [
        f"Report{RLO}cod.exe",
        "Wit\u200bness",
        "Witness\ufeff",
        "Line\nbreak",
        "Bell\x07",
        "\u2067isolated\u2069",
        "Latin\u200cjoiner",  # a joiner between Latin letters shapes nothing
    ],
)
def test_titles_refuse_invisible_and_direction_characters(title):
    with pytest.raises(ValidationError) as info:
        validate_plain_text(title)
    assert info.value.code == "invisible_character"


@pytest.mark.parametrize(
    "title",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: a zero-width non-joiner inside a word is correct spelling
        "Uyghur ئۇيغۇر",
        "Straße & Co.",
        "",
    ],
)
def test_titles_in_other_scripts_are_accepted(title):
    validate_plain_text(title)


# --- Wired into the model fields (admin and every ModelForm) ---------------------------------------------


@pytest.mark.django_db
def test_model_full_clean_normalises_and_refuses(personas):
    p = personas
    evidence = Evidence(
        url="  HTTPS://Example.ORG/new ",
        title="New",
        organisation=p.org,
        archive_url="https://Web.Archive.org/x",
    )
    evidence.full_clean()
    assert evidence.url == "https://example.org/new"
    assert evidence.archive_url == "https://web.archive.org/x"
    for field, value in [
        ("url", f"https://example.org/{RLO}x"),
        ("archive_url", "ftp://example.org/"),
        ("title", f"Title{RLO}"),
    ]:
        bad = Evidence(url="https://example.org/other", title="T", organisation=p.org)
        setattr(bad, field, value)
        with pytest.raises(ValidationError) as info:
            bad.full_clean()
        assert field in info.value.message_dict
    document = Document(
        title="T", short_name="S", slug="s", issuing_body="ohchr", published_on="2022-01-01", url="ftp://x/"
    )
    with pytest.raises(ValidationError) as info:
        document.full_clean()
    assert set(info.value.message_dict) == {"url"}
    document.url = "https://Www.OHCHR.org"
    document.title = f"Report{RLO}"
    with pytest.raises(ValidationError) as info:
        document.full_clean()
    assert set(info.value.message_dict) == {"title"}
    document.title = "Report"
    document.full_clean()
    assert document.url == "https://www.ohchr.org/"


@pytest.mark.django_db
def test_service_refuses_what_the_validator_refuses(personas):
    from cases import services

    with pytest.raises(ValidationError):
        services.add_evidence(added_by=personas.alice, url="https://exa\u200bmple.org/", title="x")
    with pytest.raises(ValidationError):
        services.add_evidence(added_by=personas.alice, url="https://example.org/y", title=f"x{RLO}")
    assert not Evidence.objects.filter(title__startswith="x").exists()


@pytest.mark.django_db
def test_admin_model_form_uses_the_validator(personas):
    from django import forms

    class EvidenceModelForm(forms.ModelForm):
        class Meta:
            model = Evidence
            fields = ["url", "title", "archive_url", "organisation", "confidentiality", "kind", "language"]

    data = {
        "url": "https://xn--80ak6aa92e.com/",
        "title": "Lookalike",
        "archive_url": "",
        "organisation": personas.org.pk,
        "confidentiality": "public",
        "kind": "news",
        "language": "en",
    }
    form = EvidenceModelForm(data)
    assert form.is_valid(), form.errors
    assert form.fields["url"].warnings  # flagged, not refused
    form = EvidenceModelForm({**data, "url": "https://example.org/\u202egpj.exe"})
    assert not form.is_valid()
    assert "U+202E" in form.errors["url"][0]
    form = EvidenceModelForm({**data, "url": "example.org/no-scheme"})
    assert not form.is_valid()
    assert "https://" in form.errors["url"][0]


# --- The evidence page: refused with a message, flagged with a warning the user sees ----------------------


def _post_evidence(user, **overrides):
    from django.test import Client
    from django.urls import reverse

    from tests.test_web_write import evidence_data

    client = Client()
    client.force_login(user)
    return client.post(reverse("cases:evidence-new"), evidence_data(**overrides), follow=True)


@pytest.mark.django_db
def test_evidence_page_records_a_lookalike_host_and_shows_the_warning(personas):
    response = _post_evidence(personas.alice, url="https://\u0430pple.com/press")
    page = response.content.decode()
    evidence = Evidence.objects.get(url="https://\u0430pple.com/press")
    assert response.redirect_chain[-1][0] == f"/evidence/{evidence.pk}/"
    assert "was recorded" in page
    assert 'class="message message--warning"' in page
    assert "mixes letters of different scripts" in page


@pytest.mark.django_db
def test_evidence_page_warns_about_a_punycode_archive_address(personas):
    response = _post_evidence(personas.alice, archive_url="https://xn--80ak6aa92e.com/copy")
    page = response.content.decode()
    assert Evidence.objects.filter(archive_url="https://xn--80ak6aa92e.com/copy").exists()
    assert "written in punycode" in page


@pytest.mark.django_db
def test_evidence_page_shows_no_warning_for_an_ordinary_address(personas):
    page = _post_evidence(personas.alice).content.decode()
    assert "was recorded" in page
    assert "message--warning" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("url", "https://example.org/\u202egpj.exe", "U+202E"),
        ("url", "https://exa\u200bmple.org/", "U+200B"),
        ("title", "Report\u2066 hidden\u2069", "U+2066"),
        ("title", "Wit\ufeffness", "U+FEFF"),
        ("archive_url", "https://web.archive.org/\u200dx", "U+200D"),
    ],
)
def test_evidence_page_refuses_invisible_characters_and_keeps_the_input(personas, field, value, shown):
    before = Evidence.objects.count()
    response = _post_evidence(personas.alice, **{field: value})
    page = response.content.decode()
    assert response.status_code == 200 and not response.redirect_chain
    assert shown in page
    assert 'value="OHCHR"' in page  # the other fields are kept as typed
    assert Evidence.objects.count() == before
