"""Photos of people are not stored (issue 12, decided in README "People (individual cases)"): no image
field on a person or a status entry, no file input on the people forms, no photo in the API's fields. A
photo is the most identifying detail there is and carries its own metadata (GPS, device, date); keeping
none is the protection, and it spares an image library (Pillow) as a dependency."""

from __future__ import annotations

import pytest
from django.db import models
from django.urls import reverse

from cases.api.people import PersonSerializer, PersonStatusSerializer
from cases.people.models import Person, PersonStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Person, PersonStatus])
def test_no_file_or_image_field(model):
    kinds = [f.name for f in model._meta.get_fields() if isinstance(f, models.FileField)]
    assert kinds == []
    assert not any("photo" in f.name or "image" in f.name for f in model._meta.get_fields())


def test_the_api_has_no_photo():
    for serializer in (PersonSerializer(), PersonStatusSerializer()):
        assert not [name for name in serializer.fields if "photo" in name or "image" in name]


def test_the_people_forms_take_no_file(client, personas):
    client.force_login(personas.carol)
    for url in (reverse("cases:person-new"), "/admin/cases/person/add/"):
        page = client.get(url).content.decode()
        assert client.get(url).status_code == 200, url
        assert 'type="file"' not in page and "multipart/form-data" not in page, url
        assert "photo" not in page.lower(), url
