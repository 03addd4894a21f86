"""API URLs; the export (issue 4) fills them."""

urlpatterns: list = []
