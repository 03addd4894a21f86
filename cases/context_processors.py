from tracker.accounts.roles import is_curator, is_monitor


def roles(request):
    """`is_curator` / `is_monitor` for templates (navigation); the server-side checks live in access.py."""
    user = getattr(request, "user", None)
    return {
        "is_curator": bool(user) and is_curator(user),
        "is_monitor": bool(user) and is_monitor(user),
    }
