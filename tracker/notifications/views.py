"""/notifications/: the signed-in user's notifications, her preferences, and (curators) failed e-mails;
Follow and Unfollow on a recommendation's page. Every state change is a POST that redirects."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from cases import access
from cases.tasks import enqueue_on_commit

from . import services
from .forms import PreferencesForm
from .models import Notification, Preferences
from .tasks import deliver_email

PAGE_SIZE = 25
FAILED_SHOWN = 50


def _preferences_form(viewer: access.Viewer, data=None) -> PreferencesForm:
    instance = Preferences.objects.filter(user=viewer.user).first() or Preferences(user=viewer.user)
    return PreferencesForm(data, instance=instance, curator=viewer.is_curator, auto_id="pref-%s")


def _render_list(request: HttpRequest, viewer: access.Viewer, form: PreferencesForm, status: int = 200):
    # Queries: session, user, membership (with groups and the unread count), the page's count and rows, the
    # preferences row; for curators, the failed e-mails with their recipients. Constant in the list's size.
    page = Paginator(Notification.objects.shown().filter(recipient=viewer.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.elided_range = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    failed = None
    if viewer.is_curator:
        failed = list(services.failed_deliveries(viewer).select_related("recipient")[:FAILED_SHOWN])
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "unread": request.user.__dict__.get("_unread_notifications"),
            "form": form,
            "failed": failed,
        },
        status=status,
    )


@login_required
@require_safe
@access.require_role(access.MEMBER)
def notification_list(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    return _render_list(request, viewer, _preferences_form(viewer))


@login_required
@require_POST
@access.require_role(access.MEMBER)
def mark_all_read(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    count = services.mark_read(viewer.user)
    if count:
        messages.success(request, _("All notifications are marked read."))
    else:
        messages.info(request, _("There were no unread notifications."))
    return redirect("notifications:list")


@login_required
@require_POST
@access.require_role(access.MEMBER)
def mark_read(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    # Only the user's own: someone else's id marks nothing (and says nothing about it).
    services.mark_read(viewer.user, [pk])
    page = request.POST.get("page", "")
    return redirect(reverse("notifications:list") + (f"?page={page}" if page.isdigit() else ""))


@login_required
@require_POST
@access.require_role(access.MEMBER)
def preferences(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    form = _preferences_form(viewer, request.POST)
    if not form.is_valid():
        messages.error(request, _("Your choices were not saved."))
        return _render_list(request, viewer, form, status=400)
    form.save()
    messages.success(request, _("Your notification choices are saved."))
    return redirect(reverse("notifications:list") + "#preferences")


@login_required
@require_POST
@access.require_role(access.MEMBER)
def follow(request: HttpRequest, viewer: access.Viewer, code: str) -> HttpResponse:
    recommendation = access.get_recommendation(code)
    if services.follow(viewer.user, recommendation):
        messages.success(
            request,
            _("You follow %(code)s: you will be notified when it changes.") % {"code": recommendation.code},
        )
    else:
        messages.info(request, _("You already follow %(code)s.") % {"code": recommendation.code})
    return redirect("cases:recommendation", code=recommendation.code)


@login_required
@require_POST
@access.require_role(access.MEMBER)
def unfollow(request: HttpRequest, viewer: access.Viewer, code: str) -> HttpResponse:
    recommendation = access.get_recommendation(code)
    services.unfollow(viewer.user, recommendation)
    messages.success(
        request,
        _("You no longer follow %(code)s.") % {"code": recommendation.code},
    )
    return redirect("cases:recommendation", code=recommendation.code)


@login_required
@require_POST
@access.require_role(access.CURATOR)
def retry_delivery(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    try:
        notification = services.failed_deliveries(viewer).get(pk=pk)
    except (Notification.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None
    if services.retry_delivery(notification):
        enqueue_on_commit(deliver_email, notification.pk)
        messages.success(request, _("The e-mail will be tried again."))
    return redirect(reverse("notifications:list") + "#failed")
