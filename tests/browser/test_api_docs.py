"""The API docs page in a real browser, under the site's Content-Security-Policy: Swagger UI must load from
our own static files, start without inline code and list every operation, with no CSP violation or
JavaScript error (the `page` fixture fails the test on any)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_page_renders_every_operation_under_the_csp(page, live_server):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")
    assert "Accountability Tracker export API" in page.inner_text(".swagger-ui .info .title")
    # 6 lists, 6 details (people included), 6 exports (people included), the partner feed, 5 webhook operations.
    assert page.locator(".opblock").count() == 24
    assert "Incremental sync" in page.inner_text(".swagger-ui .info")
    # Nothing fetched from anywhere but this server.
    assert requests and all(url.startswith(live_server.url) for url in requests), requests
    screenshot(page, "api-docs")
