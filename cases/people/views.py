"""People pages: the list (filters, search across scripts), a person's page with the timeline, the add and
status forms, the people review section and the merge. Every person comes through access.py, redacted in
the database for the viewer; every write goes through cases.people.services.

Query budgets (tests/test_people_pages.py holds them): the list is the session, the user, membership,
the page's count and rows, and the audit row of the read, whatever the number of people.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from cases import access
from cases.collation import ByLanguage
from cases.models import Recommendation
from tracker.accounts import audit

from . import services
from .forms import MergeForm, PersonFilter, PersonForm, ReturnForm, StatusForm
from .models import Person, PersonStatusKind

PAGE_SIZE = 50


def _errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_safe
@access.require_role(access.MEMBER)
def people_list(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    filterset = PersonFilter(request.GET, queryset=access.visible_people(viewer), viewer=viewer)
    valid = filterset.is_valid()
    # No DISTINCT: the one filter through a link table (one recommendation code) matches a person once, and
    # DISTINCT over the redacted columns made counting 50,000 people cost more than reading them.
    queryset = filterset.qs.order_by("reference") if valid else Person.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    # Reading the list reads people's records: who looked, how many, whether any name was shown.
    audit.record(
        "person.list",
        actor=request.user,
        organisation=viewer.organisation_id,
        count=len(rows),
        identified=sum(1 for p in rows if p.identified),
    )
    return render(
        request,
        "cases/people/list.html",
        {"filter": filterset, "form": filterset.form, "filters_valid": valid, "page": page, "rows": rows},
    )


@login_required
@require_safe
@access.require_role(access.MEMBER)
def person_detail(request: HttpRequest, viewer: access.Viewer, reference: str) -> HttpResponse:
    person = access.get_person_for(viewer, reference)
    timeline = list(
        access.visible_person_statuses(viewer, person)
        .for_timeline()
        .prefetch_related(
            Prefetch(
                "evidence",
                queryset=access.visible_evidence(viewer).order_by(ByLanguage("title"), "pk"),
                to_attr="shown_evidence",
            )
        )
    )
    return render(
        request,
        "cases/people/detail.html",
        {
            "person": person,
            "timeline": timeline,
            "recommendations": list(person.recommendations.order_by("code").only("code", "paragraph")),
            "holds": access.holds_person(viewer, person),
            "merge_form": MergeForm() if viewer.is_curator and access.holds_person(viewer, person) else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def person_new(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    duplicates = []
    may_mark = access.may_mark_never_export(viewer, viewer.organisation_id)
    if request.method == "POST":
        form = PersonForm(request.POST, may_mark_never_export=may_mark)
        if form.is_valid():
            data = form.service_kwargs()
            duplicates = services.likely_duplicates(
                viewer.organisation_id,
                names=[
                    data["name_latin"],
                    data["name_uyghur"],
                    data["name_chinese"],
                    *data["aliases"].splitlines(),
                ],
                birth_year=data["birth_year"],
                prefecture=data["prefecture"],
                refs={f: data[f] for f in ("xvdb_entry", "wgeid_ref", "un_communication_ref")},
            )
            # Likely duplicates are shown first; the monitor confirms that this is someone else.
            if not duplicates or request.POST.get("confirm_new"):
                try:
                    person = services.add_person(
                        created_by=request.user, recommendations=form.cleaned_data["recommendations"], **data
                    )
                except ValidationError as exc:
                    _errors(form, exc)
                else:
                    messages.success(
                        request, _("The person was recorded as %(ref)s.") % {"ref": person.reference}
                    )
                    return redirect(person)
    else:
        form = PersonForm(
            initial={"recommendations": request.GET.get("recommendation", "")}, may_mark_never_export=may_mark
        )
    return render(request, "cases/people/form.html", {"form": form, "duplicates": duplicates})


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def person_status_new(request: HttpRequest, viewer: access.Viewer, reference: str) -> HttpResponse:
    person = access.get_person_for(viewer, reference)
    if not access.holds_person(viewer, person):
        raise Http404
    if request.method == "POST":
        form = StatusForm(request.POST)
        if form.is_valid():
            try:
                services.submit_status(
                    Person.objects.get(pk=person.pk), author=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("The status entry was submitted for review."))
                return redirect(person)
    else:
        form = StatusForm()
    return render(request, "cases/people/status_form.html", {"form": form, "person": person})


@login_required
@require_safe
@access.require_role(access.CURATOR)
def people_review(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    entries = list(access.person_review_queue(viewer).select_related("person", "author")[:50])
    return render(request, "cases/people/review.html", {"entries": entries, "return_form": ReturnForm()})


@login_required
@require_POST
@access.require_role(access.CURATOR)
def people_review_publish(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    entry = access.get_person_status_for_review(viewer, pk)
    try:
        services.publish_status(entry, reviewer=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(
            request, _("The status entry of %(ref)s was published.") % {"ref": entry.person.reference}
        )
    return redirect("cases:people-review")


@login_required
@require_POST
@access.require_role(access.CURATOR)
def people_review_return(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    entry = access.get_person_status_for_review(viewer, pk)
    form = ReturnForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Say what the author should change."))
        services.return_status(entry, reviewer=request.user, comment=form.cleaned_data["comment"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("The status entry was returned to its author."))
    return redirect("cases:people-review")


@login_required
@require_POST
@access.require_role(access.CURATOR)
def person_merge(request: HttpRequest, viewer: access.Viewer, reference: str) -> HttpResponse:
    person = access.get_person_for(viewer, reference)
    form = MergeForm(request.POST)
    if not access.holds_person(viewer, person) or not form.is_valid():
        raise Http404
    try:
        duplicate = access.admin_people(viewer).active().get(reference=form.cleaned_data["duplicate"].strip())
        services.merge_people(Person.objects.get(pk=person.pk), duplicate, by=request.user)
    except (Person.DoesNotExist, ValidationError, PermissionDenied):
        messages.error(request, _("That record cannot be merged into this one."))
    else:
        messages.success(
            request,
            _("%(dup)s was merged into %(ref)s.") % {"dup": duplicate.reference, "ref": person.reference},
        )
    return redirect(person)


@login_required
@require_POST
@access.require_role(access.MONITOR)
def cite_people_counts(request: HttpRequest, viewer: access.Viewer, code: str) -> HttpResponse:
    """ "Cite these counts": a dated snapshot of the counts as an internal source, then the assessment form
    with it chosen. A draft posted along (the assessment form's fields) is kept as "Record it first" keeps
    it; a draft kept earlier stays and is shown again."""
    from cases.forms import AssessmentForm
    from cases.workflow_views import _draft_key

    recommendation = access.get_recommendation(code)
    draft = AssessmentForm.draft_from(request.POST)
    if draft:
        request.session[_draft_key(recommendation)] = draft
    try:
        evidence = services.cite_people_counts(recommendation, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect(recommendation)
    messages.success(
        request,
        _("The counts were saved as an internal source dated %(date)s, and chosen below.")
        % {"date": evidence.published_on.isoformat()},
    )
    return redirect(f"{reverse('cases:assess', args=[recommendation.code])}?evidence={evidence.pk}")


def recommendation_people_counts(viewer: access.Viewer, recommendation: Recommendation) -> list[dict]:
    """The recommendation page's counts: people linked to it whom the viewer may know of, by current
    status (one query), each with the list's address filtered to them."""
    found = services.count_people(viewer, recommendation)
    base = reverse("cases:people-list")
    return [
        {
            "status": value,
            "label": label,
            "count": found[value],
            "url": f"{base}?recommendation={recommendation.code}&status={value}",
        }
        for value, label in PersonStatusKind.choices
        if found.get(value)
    ]
