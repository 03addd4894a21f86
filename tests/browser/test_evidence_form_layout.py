"""Issue 16, gap 8: the evidence form's date / kind / language row was misaligned (labels and hints of
different heights pushed the three inputs to three heights). At a width where they sit side by side, their
boxes end on one line."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_flow import real_data, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_date_kind_and_language_inputs_line_up(page, real_data):  # noqa: F811
    sign_in(page, "alice")
    page.goto("/evidence/new/")
    boxes = [
        page.locator(selector).bounding_box()
        for selector in ("input[name=published_on]", "select[name=kind]", "input[name=language]")
    ]
    assert len({round(box["x"]) for box in boxes}) == 3, "the three fields sit side by side at 1280 px"
    bottoms = [box["y"] + box["height"] for box in boxes]
    assert max(bottoms) - min(bottoms) <= 2, boxes
    screenshot(page, "evidence-form-row")
