from . import access


def roles(request):
    """`is_curator` / `is_monitor` for templates (navigation), by the same rule as the server-side checks
    (access.has_role). The viewer reuses the membership the view already loaded (cached on the user)."""
    viewer = access.viewer_for_user(getattr(request, "user", None))
    return {"is_curator": viewer.is_curator, "is_monitor": viewer.is_monitor}
