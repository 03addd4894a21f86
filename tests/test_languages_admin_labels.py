"""The admin's own labels of our models are translatable (issue 11, item 1: "the admin's own labels of our models
and choices").

Django derives a label the code does not give from the attribute's name ("added_by" -> "added by"), in English
and outside every catalogue. These tests find every such label in our apps, whatever the admin shows today, so a
field added tomorrow without `verbose_name=_("…")` fails here rather than on a Uyghur admin page.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.utils import translation
from django.utils.functional import Promise

OUR_APPS = {"cases", "accounts", "notifications", "webhooks"}


def _our_models():
    for model in apps.get_models():
        # simple_history's Historical* models label their own fields (history_date, …) in its own catalogue.
        if model._meta.app_label in OUR_APPS and not model.__name__.startswith("Historical"):
            yield model


def _labelled_fields(model):
    for field in model._meta.get_fields():
        if field.auto_created and not field.concrete:
            continue  # reverse relations: the admin shows the other model's names for them
        if getattr(field, "primary_key", False) and field.auto_created:
            continue  # the implicit "ID" column, Django's own
        yield field


def test_every_model_of_ours_names_itself_in_gettext():
    plain = [
        f"{m._meta.label}.{attr}"
        for m in _our_models()
        for attr in ("verbose_name", "verbose_name_plural")
        if not isinstance(getattr(m._meta, attr), Promise)
    ]
    assert plain == [], "Meta names not in gettext_lazy: " + ", ".join(plain)


def test_every_field_of_ours_has_a_translatable_label():
    plain = [
        f"{m._meta.label}.{f.name} ({f.verbose_name!r})"
        for m in _our_models()
        for f in _labelled_fields(m)
        if not isinstance(f.verbose_name, Promise)
    ]
    assert plain == [], "Fields whose label is derived from the attribute name, in English:\n" + "\n".join(
        plain
    )


def test_every_choice_label_of_ours_is_translatable():
    plain = [
        f"{m._meta.label}.{f.name}={value!r} ({label!r})"
        for m in _our_models()
        for f in _labelled_fields(m)
        if getattr(f, "choices", None)
        for value, label in f.flatchoices
        if not isinstance(label, Promise)
    ]
    assert plain == [], "Choice labels not in gettext_lazy:\n" + "\n".join(plain)


def test_the_check_can_fail():
    """A field without a label is caught: its derived label is a plain str."""
    from django.db import models

    field = models.CharField(max_length=3)
    field.set_attributes_from_name("added_by")
    assert field.verbose_name == "added by" and not isinstance(field.verbose_name, Promise)


@pytest.mark.django_db
def test_a_review_transition_reads_in_the_page_language(personas):
    """Its __str__ is the admin's page title and breadcrumb: the states' labels, no English joining word."""
    from cases.models import AssessmentTransition, ReviewState

    transition = AssessmentTransition(from_state="", to_state=ReviewState.SUBMITTED, actor=personas.alice)
    with translation.override("en"):
        english = str(transition)
    assert "submitted" in english.lower()
    for language in ("zh-hans", "ug"):
        with translation.override(language):
            text = str(transition)
        # The state's label comes from the catalogue, not the stored value "submitted".
        assert "submitted" not in text.lower(), (language, text)
        assert " by " not in text and text.endswith(personas.alice.get_username()), (language, text)


def test_the_admins_yes_no_icons_speak_the_page_language():
    """Django writes alt="True"/"False"/"None" in every language; ours says Yes/No/Unknown, translated."""
    from django.contrib.admin.templatetags.admin_list import _boolean_icon
    from django.contrib.admin.utils import display_for_field
    from django.db import models

    for language in ("en", "zh-hans", "ug"):
        with translation.override(language):
            yes, no, unknown = (translation.gettext(w) for w in ("Yes", "No", "Unknown"))
            assert f'alt="{yes}"' in _boolean_icon(True)
            assert f'alt="{no}"' in _boolean_icon(False)
            assert f'alt="{unknown}"' in _boolean_icon(None)
            # A read-only boolean field goes through the same icon.
            assert f'alt="{yes}"' in display_for_field(True, models.BooleanField(), "-")
    with translation.override("ug"):
        assert "True" not in _boolean_icon(True) and "None" not in _boolean_icon(None)


def test_the_failed_sign_ins_status_column_is_translatable():
    from axes.models import AccessAttempt
    from django.contrib import admin

    model_admin = admin.site._registry[AccessAttempt]
    assert "status" in model_admin.list_display
    assert isinstance(model_admin.status.short_description, Promise)


@pytest.mark.django_db
def test_a_history_record_without_a_reason_shows_no_none(admin_client):
    from django.conf import settings

    from cases.models import Theme

    theme = Theme.objects.create(name="Detention")
    assert theme.history.get().history_change_reason is None
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ug"
    response = admin_client.get(f"/admin/cases/theme/{theme.pk}/history/")
    assert response.status_code == 200
    html = response.content.decode()
    table = html[
        html.index('id="change-history"') : html.index("</table>", html.index('id="change-history"'))
    ]
    assert "Detention" in table  # the record is listed
    assert "None" not in table


def test_allauths_flash_messages_are_in_our_catalogue():
    """allauth ships no Uyghur: its messages (templates/<app>/messages/*.txt) are listed for makemessages in
    tracker/i18n_thirdparty.py, so our catalogue carries them (the walk never sees them: they appear once)."""
    import re
    from pathlib import Path

    import allauth

    from tracker.i18n_thirdparty import MESSAGES

    listed = {str(m) for m in MESSAGES}
    root = Path(allauth.__file__).parent / "templates"
    found = set()
    # The allauth apps we install (settings.INSTALLED_APPS): account, mfa, usersessions; not socialaccount.
    for path in [
        p for app in ("account", "mfa", "usersessions") for p in (root / app / "messages").glob("*.txt")
    ]:
        for text in re.findall(
            r"{% blocktrans(?:late)? %}(.*?){% endblocktrans(?:late)? %}", path.read_text(), re.S
        ):
            found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", text))
    assert len(found) >= 15
    assert sorted(found - listed) == []
