"""Dates are ISO 8601 in every language, on Django's own pages (the admin, which formats with these) too: issue 16, gap 2 ("Sept. 1,
2022" is read differently in different countries)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import formats, translation

DAY = datetime.date(2022, 9, 1)
MOMENT = datetime.datetime(2024, 6, 26, 13, 5)


@pytest.mark.parametrize("language", ["en", "zh-hans", "ug"])
def test_dates_and_times_are_iso_in_every_language(language):
    with translation.override(language):
        assert formats.date_format(DAY) == "2022-09-01"
        assert formats.date_format(DAY, "SHORT_DATE_FORMAT") == "2022-09-01"
        assert formats.date_format(MOMENT, "DATETIME_FORMAT") == "2024-06-26 13:05"
        assert formats.date_format(MOMENT, "SHORT_DATETIME_FORMAT") == "2024-06-26 13:05"
        # What a user types is still read as Django reads it for the language (ISO among them).
        assert "%Y-%m-%d" in formats.get_format("DATE_INPUT_FORMATS")
