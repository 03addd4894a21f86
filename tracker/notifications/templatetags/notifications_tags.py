"""`{% unread_notifications %}` for the navigation and `{% follow_button recommendation %}` for a
recommendation's page."""

from __future__ import annotations

from django import template

from ..models import Notification
from ..services import is_following

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    """The signed-in user's unread count: read with her membership (cases/access.py), so the navigation adds
    no query; asked of the database only where no membership was read (an account without one)."""
    user = context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    cached = user.__dict__.get("_unread_notifications")
    if cached is None:
        cached = Notification.objects.unread().filter(recipient=user).count()
        user.__dict__["_unread_notifications"] = cached
    return cached


@register.inclusion_tag("notifications/_follow_button.html", takes_context=True)
def follow_button(context, recommendation) -> dict:
    """Follow / Unfollow (one query: does she follow it?)."""
    user = context.get("user")
    return {
        "recommendation": recommendation,
        "following": bool(user and user.is_authenticated and is_following(user, recommendation)),
        "csrf_token": context.get("csrf_token"),
    }
