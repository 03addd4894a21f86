"""Writing pages: a new assessment, a new piece of evidence, the curators' review queue, and revising a
returned assessment.

Every view checks the role on the server (403 for signed-in users without it), fetches objects through
`access.py` (404 where even existence is confidential) and writes through `services.py`. State changes are
POST only, CSRF-protected, and answer with a redirect (POST → redirect → GET).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import access, services
from .forms import (
    LANGUAGE_SUGGESTIONS,
    AssessmentForm,
    BulkReviewForm,
    EditAssessmentForm,
    EvidenceForm,
    PublishForm,
    ReturnForm,
    ReviewForm,
    WithdrawForm,
)
from .models import Assessment, Evidence, Recommendation, ReviewState

# The queue shows the oldest submissions; a longer backlog is worked through from the top.
REVIEW_QUEUE_LIMIT = 50


# --- Assessments ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def assess(request: HttpRequest, viewer: access.Viewer, code: str) -> HttpResponse:
    recommendation = access.get_recommendation(code)
    draft_key = _draft_key(recommendation)
    if request.method == "POST" and "add_source" in request.POST:
        # "Record it first": keep what she typed (unvalidated) and come back to it with the new source.
        request.session[draft_key] = AssessmentForm.draft_from(request.POST)
        return redirect(_add_evidence_url(recommendation, returns_here=True))
    if request.method == "POST":
        form = AssessmentForm(request.POST, recommendation=recommendation, viewer=viewer)
        if form.is_valid():
            try:
                services.submit_assessment(recommendation, author=request.user, **form.service_kwargs())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                request.session.pop(draft_key, None)
                messages.success(
                    request,
                    _(
                        "Your assessment of %(code)s was submitted for review. It becomes public, and "
                        "changes the recommendation's status, once a curator publishes it."
                    )
                    % {"code": recommendation.code},
                )
                return redirect(recommendation)
    else:
        # ?evidence=<id> (repeatable) preselects sources, e.g. from an evidence page's "cite" link, or the
        # source just recorded through "Record it first", added to the kept draft.
        initial = AssessmentForm.initial_from_draft(
            request.session.get(draft_key), recommendation, request.GET.getlist("evidence")
        )
        form = AssessmentForm(recommendation=recommendation, viewer=viewer, initial=initial)
    return _render_assessment_form(request, "cases/workflow/assess.html", form, recommendation)


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def assessment_resubmit(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    # With what it cites (access.with_cited_evidence): sources the author can no longer see (a curator
    # changed their confidentiality) drop out of a resubmission; the page says so rather than losing them
    # silently.
    assessment = access.get_own_assessment(viewer, pk)
    if assessment.review_state != ReviewState.RETURNED:
        raise Http404
    recommendation = assessment.recommendation
    cited = assessment.visible_evidence
    if request.method == "POST":
        form = AssessmentForm(request.POST, recommendation=recommendation, viewer=viewer)
        if form.is_valid():
            try:
                services.resubmit_assessment(assessment, author=request.user, **form.service_kwargs())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("Your revised assessment of %(code)s was resubmitted for review.")
                    % {"code": recommendation.code},
                )
                return redirect(recommendation)
    else:
        form = AssessmentForm(
            recommendation=recommendation,
            viewer=viewer,
            initial=AssessmentForm.initial_from(assessment, cited),
        )
    return _render_assessment_form(
        request,
        "cases/workflow/resubmit.html",
        form,
        recommendation,
        {"assessment": assessment, "reviewer": assessment.reviewer, "withheld": assessment.withheld_count},
        returns_here=False,
    )


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def assessment_edit(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    """The author edits her submission while it waits for review (the assessment form, its conflict check
    included). If it changed in another window since the form was opened, nothing is saved: the page shows
    the saved version beside her entries, and submitting again replaces it."""
    assessment = access.get_own_submission(viewer, pk)
    if not access.awaits_review(assessment):
        return _submission_closed(request, assessment)
    recommendation = assessment.recommendation
    stored = None
    if request.method == "POST":
        form = EditAssessmentForm(request.POST, recommendation=recommendation, viewer=viewer)
        if form.is_valid():
            try:
                changed = services.edit_submission(
                    assessment,
                    author=request.user,
                    seen_version=form.cleaned_data["version"],
                    **form.service_kwargs(),
                )
            except services.ChangedSinceSeen as exc:
                stored = access.get_own_submission(viewer, pk)
                if not access.awaits_review(stored):
                    return _submission_closed(request, stored)
                form.add_error(None, exc)
                form.acknowledge_version(stored.updated_at)
            except ValidationError as exc:
                if getattr(exc, "code", None) == "invalid_transition":  # reviewed while she was editing
                    return _submission_closed(request, access.get_own_submission(viewer, pk))
                form.add_service_errors(exc)
            else:
                if changed:
                    messages.success(
                        request,
                        _("Your assessment of %(code)s was changed. It still waits for a curator's review.")
                        % {"code": recommendation.code},
                    )
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect(f"{recommendation.get_absolute_url()}#assessment-{assessment.pk}")
    else:
        initial = AssessmentForm.initial_from(assessment, assessment.visible_evidence)
        initial["version"] = assessment.updated_at
        form = EditAssessmentForm(recommendation=recommendation, viewer=viewer, initial=initial)
    return _render_assessment_form(
        request,
        "cases/workflow/edit.html",
        form,
        recommendation,
        {"assessment": assessment, "withheld": assessment.withheld_count, "stored": stored},
        returns_here=False,
    )


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def assessment_withdraw(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    """The author withdraws her submission before review: a confirmation page (GET), then the withdrawal
    (POST), with an optional reason kept in its history. Works without JavaScript."""
    assessment = access.get_own_submission(viewer, pk)
    if not access.awaits_review(assessment):
        return _submission_closed(request, assessment)
    if request.method == "POST":
        form = WithdrawForm(request.POST)
        if form.is_valid():
            try:
                services.withdraw_assessment(
                    assessment, author=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError:  # reviewed between the page and the click
                return _submission_closed(request, access.get_own_submission(viewer, pk))
            messages.success(
                request,
                _(
                    "Your assessment of %(code)s was withdrawn: it will not be reviewed or published. It is "
                    "not deleted; your organisation still sees it, marked withdrawn, on the recommendation's "
                    "page."
                )
                % {"code": assessment.recommendation.code},
            )
            return redirect("cases:dashboard")
    else:
        form = WithdrawForm()
    return render(
        request,
        "cases/workflow/withdraw.html",
        {"assessment": assessment, "recommendation": assessment.recommendation, "form": form},
    )


def _submission_closed(request: HttpRequest, assessment: Assessment) -> HttpResponse:
    """A reviewed (or withdrawn) submission can no longer be edited or withdrawn: say why, and show it."""
    messages.error(request, services.closed_submission_message(assessment))
    if assessment.review_state == ReviewState.RETURNED:
        return redirect("cases:assessment-resubmit", pk=assessment.pk)
    return redirect(f"{assessment.recommendation.get_absolute_url()}#assessment-{assessment.pk}")


def _render_assessment_form(
    request: HttpRequest,
    template: str,
    form: AssessmentForm,
    recommendation: Recommendation,
    extra: dict | None = None,
    *,
    returns_here: bool = True,
) -> HttpResponse:
    context = {
        "recommendation": recommendation,
        "form": form,
        "linked_evidence": list(form["evidence"]),
        "conflicts": form.conflicts,
        "add_evidence_url": _add_evidence_url(recommendation, returns_here=returns_here),
        "returns_here": returns_here,
        **(extra or {}),
    }
    return render(request, template, context)


def _draft_key(recommendation: Recommendation) -> str:
    """The session key of the draft assessment of one recommendation (one draft per recommendation)."""
    return f"assess-draft:{recommendation.code}"


def _add_evidence_url(recommendation: Recommendation, *, returns_here: bool) -> str:
    query = {"recommendation": recommendation.code}
    if returns_here:
        query["then"] = "assess"
    return f"{reverse('cases:evidence-new')}?{urlencode(query)}"


# --- Evidence ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@access.require_role(access.MONITOR)
def evidence_new(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    # Where the user came from (?recommendation=<code>): preselected, and where they return to. With
    # ?then=assess they return to that recommendation's assessment form with the new source chosen.
    code = request.GET.get("recommendation", "")
    # PostgreSQL refuses NUL in a text parameter (a driver error, not "no match"); no code contains one.
    origin = None if "\x00" in code else Recommendation.objects.filter(code=code).only("code").first()
    then_assess = origin is not None and request.GET.get("then") == "assess"
    if request.method == "POST":
        form = EvidenceForm(request.POST, viewer=viewer)
        valid = form.is_valid()
        if form.duplicate is not None:
            return _recorded_already(request, form, form.duplicate, origin if then_assess else None)
        if valid:
            try:
                evidence = services.add_evidence(added_by=request.user, **form.service_kwargs())
            except (services.DuplicateSource, IntegrityError) as exc:
                # Someone recorded the same source between our check and our insert.
                existing = getattr(exc, "existing", None) or services.recorded_source(
                    form.cleaned_data["url"]
                )
                if existing is not None and access.can_see_evidence(viewer, existing):
                    return _recorded_already(request, form, existing, origin if then_assess else None)
                form.add_error("url", _("This address cannot be recorded. If you need it, ask a curator."))
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Evidence “%(title)s” was recorded.") % {"title": evidence.title})
                for warning in form.warnings:  # a lookalike or punycode host: recorded, but worth a look
                    messages.warning(request, warning)
                if then_assess:
                    return redirect(f"{reverse('cases:assess', args=[origin.code])}?evidence={evidence.pk}")
                if origin is not None:
                    return redirect(origin)
                return redirect("cases:evidence", pk=evidence.pk)
    else:
        form = EvidenceForm(viewer=viewer, initial={"recommendations": [origin.code] if origin else []})
    return render(
        request,
        "cases/workflow/evidence_form.html",
        {
            "form": form,
            "origin": origin,
            "then_assess": then_assess,
            "language_suggestions": LANGUAGE_SUGGESTIONS,
        },
    )


def _recorded_already(
    request: HttpRequest, form: EvidenceForm, existing: Evidence, assess_origin: Recommendation | None
) -> HttpResponse:
    """The source is recorded already (and the user may see it): nothing she did is dropped silently. The
    existing entry is linked to the recommendations she ticked (if her organisation holds it), her excerpt
    fills an empty one, and otherwise the page tells her, quoting the excerpt back so she can keep it."""
    data = getattr(form, "cleaned_data", {})
    chosen = list(data.get("recommendations") or [])
    excerpt = data.get("excerpt") or ""
    messages.info(request, _("This source was already recorded, so no second entry was made."))
    if chosen:
        codes = ", ".join(r.code for r in chosen)
        try:
            services.link_evidence(existing, chosen, by=request.user)
        except PermissionDenied:
            messages.warning(
                request,
                _(
                    "It is held by another organisation, so it was not linked to %(codes)s; you can still "
                    "cite it in an assessment."
                )
                % {"codes": codes},
            )
        else:
            messages.success(request, _("It is now linked to %(codes)s.") % {"codes": codes})
    if excerpt and excerpt != existing.excerpt:
        saved = False
        if not existing.excerpt:
            try:
                saved = bool(services.change_evidence(existing, by=request.user, excerpt=excerpt))
            except (PermissionDenied, ValidationError):
                saved = False
        if saved:
            messages.success(request, _("Your excerpt was added to it."))
        else:
            messages.warning(
                request,
                _(
                    "Your excerpt was not saved, because the source already has one or is not your "
                    "organisation's to change. What you typed: %(excerpt)s"
                )
                % {"excerpt": excerpt},
            )
    if assess_origin is not None:
        return redirect(f"{reverse('cases:assess', args=[assess_origin.code])}?evidence={existing.pk}")
    return redirect("cases:evidence", pk=existing.pk)


# --- Review --------------------------------------------------------------------------------------------


def _review_queue_for(viewer: access.Viewer):
    """The curator's queue (access.review_queue) with everything a row shows.

    Queries: the assessments with recommendation, the State's latest claim, author and corrected
    assessment joined in (and the withheld evidence counted), then one prefetch of the visible evidence.
    """
    return access.with_cited_evidence(
        viewer,
        access.review_queue(viewer).select_related(
            "recommendation", "recommendation__state_claim", "author", "corrects"
        ),
    )


def _render_queue(
    request: HttpRequest,
    viewer: access.Viewer,
    *,
    failed: tuple[int, ReviewForm] | None = None,
    bulk: BulkReviewForm | None = None,
) -> HttpResponse:
    items = list(_review_queue_for(viewer)[: REVIEW_QUEUE_LIMIT + 1])
    more = len(items) > REVIEW_QUEUE_LIMIT
    items = items[:REVIEW_QUEUE_LIMIT]
    for item in items:
        item.is_own = item.author_id == request.user.pk
        if failed and failed[0] == item.pk:
            item.review_form = failed[1]
        else:
            # The version shown travels with the form: an author's later edit is not published unread.
            item.review_form = ReviewForm(
                auto_id=f"review-{item.pk}-%s", initial={"version": item.updated_at}
            )
    context = {
        "items": items,
        "more": more,
        # A refused bulk review comes back with its comment, its errors and the same items ticked.
        "bulk_form": bulk or BulkReviewForm(auto_id="bulk-%s"),
        "bulk_selected": bulk.selected() if bulk is not None else set(),
        "bulk_possible": any(not item.is_own for item in items),
    }
    return render(request, "cases/workflow/review_queue.html", context)


@login_required
@require_GET
@access.require_role(access.CURATOR)
def review_queue(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    return _render_queue(request, viewer)


@login_required
@require_POST
@access.require_role(access.CURATOR)
def review_publish(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    assessment = access.get_assessment_for_review(viewer, pk)
    form = PublishForm(request.POST, auto_id=f"review-{assessment.pk}-%s")
    if not form.is_valid():
        # Unconfirmed (or an over-long note): the queue again, with the typed comment kept in its box.
        messages.error(request, _("The assessment was not published: tick the box to confirm."))
        return _render_queue(request, viewer, failed=(assessment.pk, form))
    try:
        services.publish_assessment(
            assessment,
            reviewer=request.user,
            comment=form.cleaned_data["comment"],
            seen_version=form.cleaned_data["version"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _review_error(assessment, exc))
    else:
        messages.success(
            request,
            _("The assessment of %(code)s was published; the recommendation's status is updated.")
            % {"code": assessment.recommendation.code},
        )
    return redirect("cases:review-queue")


@login_required
@require_POST
@access.require_role(access.CURATOR)
def review_return(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    assessment = access.get_assessment_for_review(viewer, pk)
    form = ReturnForm(request.POST, auto_id=f"review-{assessment.pk}-%s")
    if not form.is_valid():
        messages.error(request, _("The assessment was not returned: say what the author should change."))
        return _render_queue(request, viewer, failed=(assessment.pk, form))
    try:
        services.return_assessment(
            assessment,
            reviewer=request.user,
            comment=form.cleaned_data["comment"],
            seen_version=form.cleaned_data["version"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _review_error(assessment, exc))
    else:
        messages.success(
            request,
            _("The assessment of %(code)s was returned to its author with your comment.")
            % {"code": assessment.recommendation.code},
        )
    return redirect("cases:review-queue")


@login_required
@require_POST
@access.require_role(access.CURATOR)
def review_bulk(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    """Publish or return the ticked assessments with one comment. Each goes through the single-item service
    in its own transaction (services.review_many); the messages say which were done and why others were
    refused. An invalid form (nothing ticked, Publish unconfirmed, Return without a comment) does nothing."""
    form = BulkReviewForm(request.POST, auto_id="bulk-%s")
    if not form.is_valid():
        messages.error(request, _("Nothing was published or returned: see the form at the end of the queue."))
        return _render_queue(request, viewer, bulk=form)
    ids = form.cleaned_data["items"]
    found = {
        a.pk: a for a in access.assessments_for_review(viewer, ids).select_related("recommendation", "author")
    }
    action = form.cleaned_data["action"]
    outcomes = services.review_many(
        [found[pk] for pk in ids if pk in found],
        reviewer=request.user,
        action=action,
        comment=form.cleaned_data["comment"],
        versions=form.cleaned_data["versions"],
    )
    done = [_item_label(o.assessment) for o in outcomes if o.done]
    if done:
        if action == "publish":
            text = ngettext(
                "Published %(count)d assessment: %(items)s. The recommendations' status is updated.",
                "Published %(count)d assessments: %(items)s. The recommendations' status is updated.",
                len(done),
            )
        else:
            text = ngettext(
                "Returned %(count)d assessment to its author with your comment: %(items)s.",
                "Returned %(count)d assessments to their authors with your comment: %(items)s.",
                len(done),
            )
        messages.success(request, text % {"count": len(done), "items": ", ".join(done)})
    for outcome in outcomes:
        if not outcome.done:
            refused = (
                _("Not published: %(item)s. %(reason)s")
                if action == "publish"
                else _("Not returned: %(item)s. %(reason)s")
            )
            reason = _review_error(outcome.assessment, outcome.error)
            messages.error(request, refused % {"item": _item_label(outcome.assessment), "reason": reason})
    missing = len([pk for pk in ids if pk not in found])
    if missing:
        # Another organisation's assessment, or none: the same words, so nothing is learnt about either.
        messages.error(
            request,
            ngettext(
                "%(count)d of the selected assessments is not available to you; nothing was done to it.",
                "%(count)d of the selected assessments are not available to you; nothing was done to them.",
                missing,
            )
            % {"count": missing},
        )
    return redirect("cases:review-queue")


def _item_label(assessment: Assessment) -> str:
    """An assessment as a result message names it: the recommendation's code and the author."""
    author = assessment.author.get_full_name() or assessment.author.get_username()
    return _("%(code)s by %(author)s") % {"code": assessment.recommendation.code, "author": author}


def _review_error(assessment: Assessment, exc: Exception) -> str:
    """A reviewer-facing explanation of a refused transition; the state is re-read, since the usual cause
    is another curator having acted first."""
    if getattr(exc, "code", None) == "invalid_transition":
        current = (
            Assessment.objects.filter(pk=assessment.pk)
            .select_related("reviewer")
            .only("review_state", "reviewer__username", "reviewer__first_name", "reviewer__last_name")
            .first()
        )
        name = ""
        if current is not None and current.reviewer is not None:
            name = current.reviewer.get_full_name() or current.reviewer.get_username()
        if current is not None and current.is_published:
            return _("This assessment was already published by %(name)s.") % {"name": name}
        if current is not None and current.review_state == ReviewState.RETURNED:
            return _("This assessment was already returned to its author by %(name)s.") % {"name": name}
        if current is not None and current.review_state == ReviewState.WITHDRAWN:
            return _("Its author withdrew this assessment.")
        return _("This assessment is no longer waiting for review.")
    messages_ = getattr(exc, "messages", None) or [str(exc) or _("You may not review this assessment.")]
    return " ".join(str(m) for m in messages_)
