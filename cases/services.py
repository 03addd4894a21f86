"""Every write that touches more than one row: the review workflow, evidence, organisations.

Views, the admin, fixtures, commands and tests change state through these functions, so the transition
table, the four-eyes rule, the history rows and the denormalised current status hold everywhere.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tracker.accounts import audit
from tracker.accounts.roles import is_curator

from .models import (
    ApiKey,
    Assessment,
    AssessmentTransition,
    Basis,
    Evidence,
    ImplementationStatus,
    KeyClearance,
    Membership,
    Organisation,
    Recommendation,
    ReviewState,
    StateResponse,
)
from .validators import canonical_url, same_source_prefixes

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class TransitionError(ValidationError):
    """A review transition the workflow does not allow, or one this user may not make."""


# The review pipeline: (from, to) → the action's name. Anything else is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("", ReviewState.SUBMITTED): "submit",
    (ReviewState.SUBMITTED, ReviewState.PUBLISHED): "publish",
    (ReviewState.SUBMITTED, ReviewState.RETURNED): "return",
    (ReviewState.RETURNED, ReviewState.SUBMITTED): "resubmit",
    # The author takes her submission back before anyone reviewed it (the row stays, with its history).
    (ReviewState.SUBMITTED, ReviewState.WITHDRAWN): "withdraw",
}


def _check_transition(from_state: str, to_state: str) -> None:
    if (from_state, to_state) not in TRANSITIONS:
        raise TransitionError(
            _("An assessment cannot go from “%(from)s” to “%(to)s”.")
            % {"from": from_state or _("new"), "to": to_state},
            code="invalid_transition",
        )


def _record(assessment: Assessment, from_state: str, to_state: str, actor: User, comment: str = "") -> None:
    AssessmentTransition.objects.create(
        assessment=assessment, from_state=from_state, to_state=to_state, actor=actor, comment=comment
    )


class NoOrganisation(PermissionDenied):
    """The account belongs to no organisation: it is refused, never moved into one."""


def organisation_of(user: User) -> Organisation:
    """The user's organisation. Reads only: an account without a membership is refused."""
    cached = user._state.fields_cache.get("membership")
    if cached is not None:
        return cached.organisation
    membership = Membership.objects.select_related("organisation").filter(user=user).first()
    if membership is None:
        raise NoOrganisation(_("This account belongs to no organisation."))
    user.membership = membership
    return membership.organisation


def default_organisation() -> Organisation:
    name = settings.TRACKER_DEFAULT_ORGANISATION
    organisation, _created = Organisation.objects.get_or_create(
        slug=slugify(name) or "default", defaults={"name": name}
    )
    return organisation


def get_or_create_organisation(name: str) -> Organisation:
    organisation, _created = Organisation.objects.get_or_create(
        name=name, defaults={"slug": _unique_slug(name)}
    )
    return organisation


def _unique_slug(name: str) -> str:
    base = slugify(name)[:180] or "organisation"
    slug, n = base, 1
    while Organisation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def set_membership(user: User, organisation: Organisation) -> Organisation:
    membership, _created = Membership.objects.update_or_create(
        user=user, defaults={"organisation": organisation}
    )
    user.membership = membership
    return organisation


# --- Assessments ---------------------------------------------------------------------------------------


def _validate_assessment(
    recommendation: Recommendation,
    *,
    assessed_on: datetime.date,
    evidence: Iterable[Evidence],
    corrects: Assessment | None,
) -> list[Evidence]:
    evidence = list(evidence)
    errors: dict[str, list[str]] = {}
    if not evidence:
        errors["evidence"] = [_("An assessment rests on at least one piece of evidence.")]
    # The date an assessment speaks for lies between the recommendation's issue and today. Evidence
    # published later may report on that date (a statement of 26 June reporting responses of 11 June), so
    # the evidence's own dates are not compared. The document is joined by access.get_recommendation.
    issued = recommendation.document.published_on
    if assessed_on > timezone.localdate():
        errors["assessed_on"] = [_("The date an assessment speaks for cannot be in the future.")]
    elif assessed_on < issued:
        errors["assessed_on"] = [
            _(
                "The date an assessment speaks for cannot be before its recommendation was issued "
                "(%(issued)s)."
            )
            % {"issued": issued.isoformat()}
        ]
    if corrects is not None and (
        corrects.recommendation_id != recommendation.pk or corrects.review_state != ReviewState.PUBLISHED
    ):
        errors["corrects"] = [_("Only a published assessment of the same recommendation can be corrected.")]
    if errors:
        raise ValidationError(errors)
    return evidence


@transaction.atomic
def submit_assessment(
    recommendation: Recommendation,
    *,
    author: User,
    implementation_status: str,
    state_response: str,
    basis: str,
    assessed_on: datetime.date,
    rationale: str,
    evidence: Iterable[Evidence],
    corrects: Assessment | None = None,
    checked: bool = False,
) -> Assessment:
    """Record a new assessment, submitted for review. It changes nothing public until a curator publishes it.

    `checked`: the caller has already mapped every value to our vocabulary (the importer does, for each of
    thousands of State responses); the per-row constraint queries are skipped, and the database's own check
    constraints still refuse a bad row."""
    _check_transition("", ReviewState.SUBMITTED)
    evidence = _validate_assessment(
        recommendation, assessed_on=assessed_on, evidence=evidence, corrects=corrects
    )
    assessment = Assessment(
        recommendation=recommendation,
        implementation_status=implementation_status,
        state_response=state_response,
        basis=basis,
        assessed_on=assessed_on,
        rationale=rationale,
        corrects=corrects,
        author=author,
        organisation=organisation_of(author),
        review_state=ReviewState.SUBMITTED,
    )
    # The related objects are in hand, so their existence is not asked again (one query each).
    assessment.full_clean(
        exclude=["evidence", "recommendation", "author", "organisation", "corrects"],
        validate_constraints=not checked,
    )
    assessment.save()
    assessment.evidence.set(evidence)
    _record(assessment, "", ReviewState.SUBMITTED, author)
    audit.record(
        "assessment.submit",
        actor=author,
        target=assessment,
        recommendation=recommendation.pk,
        corrects=assessment.corrects_id,
    )
    return assessment


def _link_cited_evidence(recommendation: Recommendation, evidence: list[Evidence]) -> None:
    """Evidence cited by a published assessment supports the recommendation too, so it shows on the
    recommendation's page. Linked on publication, not submission: the link leaves the organisation with the
    evidence, and unpublished work must not. Only missing links are added (the edit history records real
    changes only); the recommendation itself is saved by the status recomputation that follows."""
    linked = set(recommendation.evidence.filter(pk__in=[e.pk for e in evidence]).values_list("pk", flat=True))
    missing = [e for e in evidence if e.pk not in linked]
    if missing:
        recommendation.evidence.add(*missing)
        _touch_for_sync(missing, [])


def _lock(assessment: Assessment) -> Assessment:
    """Re-read the assessment and its recommendation under a row lock (PostgreSQL; SQLite's IMMEDIATE
    transactions already serialise writers), so two reviewers cannot both act on the same state."""
    Recommendation.objects.select_for_update().only("pk").get(pk=assessment.recommendation_id)
    return Assessment.objects.select_for_update().select_related("recommendation").get(pk=assessment.pk)


class ChangedSinceSeen(TransitionError):
    """The assessment changed after the acting person's page showed it (its author edited it)."""


def _check_unchanged(current: Assessment, seen_version: datetime.datetime | None, message: str) -> None:
    """Refuse to act on a version of the assessment other than the one the page showed. `seen_version` is
    the `updated_at` the page carried (None: no check, for callers without a page); it is compared under
    the row lock, so an edit that commits first is always noticed."""
    if seen_version is not None and current.updated_at != seen_version:
        raise ChangedSinceSeen(message, code="changed")


def _changed_under_review() -> str:
    return _(
        "Its author changed this assessment after your page showed it. Read the new version in the queue, "
        "then publish or return it."
    )


@transaction.atomic
def publish_assessment(
    assessment: Assessment,
    *,
    reviewer: User,
    comment: str = "",
    seen_version: datetime.datetime | None = None,
) -> Assessment:
    """Publish a submitted assessment. Only a curator other than its author may; the recommendation's current
    status is recomputed in the same transaction. The reviewer's optional note is kept on the transition.
    With `seen_version` (the `updated_at` her page showed), a submission its author edited since is refused:
    nobody publishes words she has not read."""
    comment = (comment or "").strip()
    current = _lock(assessment)
    _check_transition(current.review_state, ReviewState.PUBLISHED)
    _check_reviewer(current, reviewer)
    _check_unchanged(current, seen_version, _changed_under_review())
    now = timezone.now()
    current.review_state = ReviewState.PUBLISHED
    current.reviewer = reviewer
    current.published_at = now
    current.save(update_fields=["review_state", "reviewer", "published_at", "updated_at"])
    _record(current, ReviewState.SUBMITTED, ReviewState.PUBLISHED, reviewer, comment)
    _link_cited_evidence(current.recommendation, list(current.evidence.all()))
    recompute_current_status(current.recommendation, now=now)
    audit.record(
        "assessment.publish",
        actor=reviewer,
        target=current,
        recommendation=current.recommendation_id,
        author=current.author_id,
    )
    _refresh(assessment, current)
    return current


@transaction.atomic
def return_assessment(
    assessment: Assessment,
    *,
    reviewer: User,
    comment: str,
    seen_version: datetime.datetime | None = None,
) -> Assessment:
    """Send a submitted assessment back to its author with a comment saying what to change (`seen_version`:
    as in publish_assessment)."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": [_("Say what the author should change.")]})
    current = _lock(assessment)
    _check_transition(current.review_state, ReviewState.RETURNED)
    _check_reviewer(current, reviewer)
    _check_unchanged(current, seen_version, _changed_under_review())
    current.review_state = ReviewState.RETURNED
    current.reviewer = reviewer
    current.review_comment = comment
    current.save(update_fields=["review_state", "reviewer", "review_comment", "updated_at"])
    _record(current, ReviewState.SUBMITTED, ReviewState.RETURNED, reviewer, comment)
    # The comment may name people at risk: the transition row keeps it, the audit trail only that it exists.
    audit.record("assessment.return", actor=reviewer, target=current, author=current.author_id)
    _refresh(assessment, current)
    return current


@transaction.atomic
def resubmit_assessment(assessment: Assessment, *, author: User, **changes) -> Assessment:
    """The author sends a returned assessment back for review, optionally with its fields changed."""
    current = _lock(assessment)
    _check_transition(current.review_state, ReviewState.SUBMITTED)
    if current.author_id != author.pk:
        raise PermissionDenied(_("Only the author can resubmit an assessment."))
    evidence = changes.pop("evidence", None)
    evidence_changed = evidence is not None
    allowed = {"implementation_status", "state_response", "basis", "assessed_on", "rationale", "corrects"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    for field, value in changes.items():
        setattr(current, field, value)
    evidence = _validate_assessment(
        current.recommendation,
        assessed_on=current.assessed_on,
        evidence=current.evidence.all() if evidence is None else evidence,
        corrects=current.corrects,
    )
    current.review_state = ReviewState.SUBMITTED
    current.reviewer = None
    current.full_clean(exclude=["evidence"])
    current.save()
    current.evidence.set(evidence)
    _record(current, ReviewState.RETURNED, ReviewState.SUBMITTED, author)
    audit.record(
        "assessment.resubmit",
        actor=author,
        target=current,
        recommendation=current.recommendation_id,
        fields=sorted({*changes, *(["evidence"] if evidence_changed else [])}) or None,
    )
    _refresh(assessment, current)
    return current


# --- The author's own submission, until it is reviewed ------------------------------------------------

# What an author may change in her submission: what she typed in the form (the same as a resubmission).
_EDITABLE_FIELDS = {
    "implementation_status", "state_response", "basis", "assessed_on", "rationale", "corrects"
}  # fmt: skip


def closed_submission_message(assessment: Assessment) -> str:
    """Why an author can no longer edit or withdraw this assessment (it was reviewed or withdrawn)."""
    if assessment.review_state == ReviewState.PUBLISHED:
        return _(
            "This assessment was already published, so it can no longer be edited or withdrawn. To change "
            "the record, submit an assessment that corrects it."
        )
    if assessment.review_state == ReviewState.RETURNED:
        return _(
            "A curator already returned this assessment to you with a comment: revise and resubmit it "
            "instead."
        )
    if assessment.review_state == ReviewState.WITHDRAWN:
        return _("This assessment was already withdrawn.")
    return _("This assessment is no longer waiting for review.")


def _check_author_may_change(current: Assessment, author: User) -> None:
    """Who (access.may_change_submission: its author, in its organisation), then when (access.awaits_review:
    not yet reviewed or withdrawn). Asked of the row read under the lock."""
    from . import access

    if not access.may_change_submission(access.viewer_for_user(author), current):
        raise PermissionDenied(_("Only its author can edit or withdraw an assessment."))
    if not access.awaits_review(current):
        raise TransitionError(closed_submission_message(current), code="invalid_transition")


@transaction.atomic
def edit_submission(
    assessment: Assessment,
    *,
    author: User,
    seen_version: datetime.datetime | None = None,
    **changes,
) -> list[str]:
    """The author changes her submitted assessment while it waits for review; returns the names of the fields
    that changed (none: nothing is written). The fields and checks are a resubmission's; it keeps its place
    in the review queue and its state.

    Refused for anyone but its author (PermissionDenied) and once it was reviewed or withdrawn
    (TransitionError, code "invalid_transition"). With `seen_version` (the `updated_at` her form was opened
    on), refused too if it changed since (ChangedSinceSeen, code "changed": saved from another window), so
    one window never silently overwrites another. A curator whose page still shows the old version is in
    turn refused on publishing it (publish_assessment's `seen_version`).
    """
    current = _lock(assessment)
    _check_author_may_change(current, author)
    _check_unchanged(
        current,
        seen_version,
        _("This submission was changed in another window after you opened this form."),
    )
    evidence = changes.pop("evidence", None)
    unknown = set(changes) - _EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    if "corrects" in changes:
        corrects = changes.pop("corrects")
        if getattr(corrects, "pk", corrects) != current.corrects_id:
            changes["corrects"] = corrects
    changed = sorted(name for name, value in changes.items() if getattr(current, name) != value)
    cited = list(current.evidence.all())
    if evidence is not None:
        evidence = list(evidence)
        if {e.pk for e in evidence} != {e.pk for e in cited}:
            changed = sorted([*changed, "evidence"])
    if not changed:
        return []
    for name in changed:
        if name != "evidence":
            setattr(current, name, changes[name])
    evidence = _validate_assessment(
        current.recommendation,
        assessed_on=current.assessed_on,
        evidence=cited if evidence is None else evidence,
        corrects=current.corrects,
    )
    current.full_clean(exclude=["evidence"])
    current.save()
    if "evidence" in changed:
        current.evidence.set(evidence)
    # Field names only: what she typed may name people at risk.
    audit.record(
        "assessment.edit",
        actor=author,
        target=current,
        recommendation=current.recommendation_id,
        fields=changed,
    )
    _refresh(assessment, current)
    return changed


@transaction.atomic
def withdraw_assessment(assessment: Assessment, *, author: User, reason: str = "") -> Assessment:
    """The author takes her submission back before it is reviewed. Nothing is deleted: the row stays, in
    state `withdrawn`, with a transition row holding her optional reason. It leaves the review queue and her
    open work; it never counted in a recommendation's status (only published assessments do), so nothing is
    recomputed. Refused for anyone but its author and once it was reviewed or withdrawn."""
    reason = (reason or "").strip()
    current = _lock(assessment)
    _check_author_may_change(current, author)
    _check_transition(current.review_state, ReviewState.WITHDRAWN)
    current.review_state = ReviewState.WITHDRAWN
    current.save(update_fields=["review_state", "updated_at"])
    _record(current, ReviewState.SUBMITTED, ReviewState.WITHDRAWN, author, reason)
    audit.record(
        "assessment.withdraw",
        actor=author,
        target=current,
        recommendation=current.recommendation_id,
        reason=bool(reason),
    )
    _refresh(assessment, current)
    return current


# --- Several reviews at once ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewOutcome:
    """One item of a bulk review: done, or refused with the error that says why."""

    assessment: Assessment
    error: ValidationError | PermissionDenied | None = None

    @property
    def done(self) -> bool:
        return self.error is None


REVIEW_ACTIONS = ("publish", "return")


def review_many(
    assessments: Iterable[Assessment],
    *,
    reviewer: User,
    action: str,
    comment: str = "",
    versions: dict[int, datetime.datetime] | None = None,
) -> list[ReviewOutcome]:
    """Publish or return several assessments with one comment, each exactly as publish_assessment or
    return_assessment would on its own: four eyes, the transition table and the `seen_version` check (from
    `versions`, by id) are asked of each item.

    Deliberately not one transaction: each item commits or rolls back on its own (the single-item services
    are atomic), so one refusal (the curator's own work, an item another curator took first) never undoes
    the others, and no item is ever half done. Returning needs the comment, checked before any item.
    """
    if action not in REVIEW_ACTIONS:
        raise ValueError(f"unknown review action {action!r}")
    comment = (comment or "").strip()
    if action == "return" and not comment:
        raise ValidationError({"comment": [_("Say what the author should change.")]})
    act = publish_assessment if action == "publish" else return_assessment
    versions = versions or {}
    outcomes = []
    for assessment in assessments:
        try:
            act(assessment, reviewer=reviewer, comment=comment, seen_version=versions.get(assessment.pk))
        except (ValidationError, PermissionDenied) as exc:
            outcomes.append(ReviewOutcome(assessment, exc))
        else:
            outcomes.append(ReviewOutcome(assessment))
    audit.record(
        "assessment.bulk_review",
        actor=reviewer,
        action=action,
        done=[o.assessment.pk for o in outcomes if o.done],
        refused=[o.assessment.pk for o in outcomes if not o.done],
    )
    return outcomes


def _check_reviewer(assessment: Assessment, reviewer: User) -> None:
    # The Curators group decides who reviews. The staff flag that access's page rule adds only opens the
    # admin's door: the data set's system reviewer is a curator that can never sign in, and has no staff flag.
    if not is_curator(reviewer):
        raise PermissionDenied(_("Only curators review assessments."))
    # Four eyes compares people, not rows: an account the reviewer made (invited) or whose credentials she
    # reset may be her own second identity (tracker.accounts.services.linked_accounts).
    from tracker.accounts.services import linked_accounts

    link = linked_accounts(reviewer, assessment.author_id)
    if link == "self":
        raise TransitionError(_("Four eyes: a curator cannot review their own assessment."), code="four_eyes")
    if link == "invited":
        raise TransitionError(
            _("Four eyes: a curator cannot review the work of an account she invited, or that invited her."),
            code="four_eyes",
        )
    if link == "reset":
        raise TransitionError(
            _(
                "Four eyes: a curator cannot review the work of an account whose sign-in she reset, "
                "or that reset hers."
            ),
            code="four_eyes",
        )


def _refresh(stale: Assessment, fresh: Assessment) -> None:
    """Let the caller's instance reflect the new state without another query."""
    if stale is not fresh:
        stale.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "_state"})


def _latest(queryset):
    # By the date the assessment speaks for, then by publication: an assessment published today about
    # 2023 never outranks one about 2024, whoever publishes it and whatever it corrects.
    return queryset.order_by("-assessed_on", "-published_at", "-id").first()


def recompute_current_status(recommendation: Recommendation, *, now: datetime.datetime | None = None) -> None:
    """Derive the recommendation's three status facts from its published assessments.

    Implementation status: the latest published independent or UN assessment. State response: the latest
    published value other than "no response". State claim: the latest published State claim. "Latest" is
    by the date an assessment speaks for (`assessed_on`), then by publication time. Assessments named by a
    published correction (of any organisation) no longer count.
    """
    published = Assessment.objects.filter(recommendation=recommendation).published()
    current = published.exclude(pk__in=published.filter(corrects__isnull=False).values("corrects_id"))
    finding = _latest(current.filter(basis__in=[Basis.INDEPENDENT, Basis.UN_FINDING]))
    response = _latest(current.exclude(state_response=StateResponse.NO_RESPONSE))
    claim = _latest(current.filter(basis=Basis.STATE_CLAIM))
    recommendation.implementation_status = (
        finding.implementation_status if finding else ImplementationStatus.NOT_ASSESSED
    )
    recommendation.state_response = response.state_response if response else StateResponse.NO_RESPONSE
    recommendation.state_claim = claim
    # When the status was last computed (the API's status_updated_at), not when it changed in the world:
    # loading the data set computes every status today. Pages show status_changed_on instead.
    recommendation.status_updated_at = now or timezone.now()
    recommendation.save(
        update_fields=[
            "implementation_status",
            "state_response",
            "state_claim",
            "status_updated_at",
            "updated_at",
        ]
    )


def status_changed_on(assessments: Iterable[Assessment]) -> datetime.date | None:
    """The date the recommendation's current status took its present values, from the assessments' own
    dates (`assessed_on`), or None while nothing published gives it a status. Reads only: `assessments` are
    the recommendation's (a page's timeline); unpublished ones and those named by a published correction are
    left out, as in recompute_current_status. They are replayed in its order of "latest" (date spoken for,
    then publication); the date is that of the last one that changed the implementation status, the State
    response or the status the State claims. A later assessment that repeats the status changes nothing."""
    published = [a for a in assessments if a.is_published]
    corrected = {a.corrects_id for a in published if a.corrects_id}
    current = sorted(
        (a for a in published if a.pk not in corrected), key=lambda a: (a.assessed_on, a.published_at, a.pk)
    )
    facts: tuple[str, str, str | None] = (ImplementationStatus.NOT_ASSESSED, StateResponse.NO_RESPONSE, None)
    changed_on = None
    for assessment in current:
        implementation, response, claim = facts
        if assessment.basis in (Basis.INDEPENDENT, Basis.UN_FINDING):
            implementation = assessment.implementation_status
        if assessment.state_response != StateResponse.NO_RESPONSE:
            response = assessment.state_response
        if assessment.basis == Basis.STATE_CLAIM:
            # A claim that states no implementation status is not shown (the status card omits it).
            claim = (
                None
                if assessment.implementation_status == ImplementationStatus.NOT_ASSESSED
                else assessment.implementation_status
            )
        if (implementation, response, claim) != facts:
            facts = (implementation, response, claim)
            changed_on = assessment.assessed_on
    return changed_on


# --- Evidence ------------------------------------------------------------------------------------------


def _touch_for_sync(
    evidence: Iterable[Evidence], recommendation_ids: Iterable[int], *, visible_before: bool = False
) -> None:
    """The one rule for incremental sync (`updated_since`): a change to evidence or its links marks the
    evidence and the recommendations it concerns as updated exactly when someone outside the holding
    organisation can see the evidence, before (`visible_before`) or after the change. Touching them for
    internal evidence would tell every partner key that something private happened."""
    leaving = [e.pk for e in evidence if visible_before or e.leaves_organisation]
    if not leaving:
        return
    now = timezone.now()
    Evidence.objects.filter(pk__in=leaving).update(updated_at=now)
    recommendation_ids = set(recommendation_ids)
    if recommendation_ids:
        Recommendation.objects.filter(pk__in=recommendation_ids).update(updated_at=now)


def _check_holder(evidence: Evidence, user: User) -> None:
    """Only members of the organisation that holds a source change it or its links (operators too)."""
    if getattr(user, "is_superuser", False):
        return
    if evidence.organisation_id != organisation_of(user).pk:
        raise PermissionDenied(_("Only the organisation that holds this source can change it."))


class DuplicateSource(ValidationError):
    """The address is already recorded (exactly, or in its canonical form); `existing` is that entry.
    Who may learn that it exists is the caller's to decide, through access.py."""

    def __init__(self, existing: Evidence) -> None:
        super().__init__({"url": ValidationError(_("This source is already recorded."), code="duplicate")})
        self.existing = existing


def recorded_source(url: str) -> Evidence | None:
    """The entry recorded under `url` or any address with the same `canonical_url` (http/https, trailing
    slash, default port, tracking parameters), or None; an exact match wins. Looks up a few address prefixes
    (the unique index on url serves them) and compares canonical forms on the rows found."""
    try:
        canonical = canonical_url(url)
    except ValidationError:
        return None
    exact = url.strip()
    near = Q(url=exact)
    for prefix in same_source_prefixes(url):
        near |= (
            Q(url=prefix)
            | Q(url=f"{prefix}/")
            | Q(url__startswith=f"{prefix}?")
            | Q(url__startswith=f"{prefix}/?")
        )
    candidates = Evidence.objects.filter(near).only(
        "pk", "url", "confidentiality", "organisation_id", "excerpt"
    )
    same = [e for e in candidates.order_by("pk") if e.url == exact or _canonical_or_none(e.url) == canonical]
    return next((e for e in same if e.url == exact), same[0] if same else None)


def _canonical_or_none(url: str) -> str | None:
    try:
        return canonical_url(url)
    except ValidationError:  # an address stored before today's rules
        return None


@transaction.atomic
def add_evidence(*, added_by: User, recommendations: Iterable[Recommendation] = (), **fields) -> Evidence:
    """Add a source, held by the user's organisation, linked to the recommendations it supports.

    Raises DuplicateSource when the address, or its canonical form, is already recorded: one source is one
    entry. (Two variants inserted at the same instant can both pass this check; the unique index still
    refuses two identical addresses.)"""
    existing = recorded_source(str(fields.get("url", "")))
    if existing is not None:
        raise DuplicateSource(existing)
    evidence = Evidence(added_by=added_by, organisation=organisation_of(added_by), **fields)
    evidence.full_clean()
    evidence.save()
    recommendations = list(recommendations)
    if recommendations:
        evidence.recommendations.add(*recommendations)
        _touch_for_sync([evidence], [r.pk for r in recommendations])
    audit.record(
        "evidence.add",
        actor=added_by,
        target=evidence,
        confidentiality=evidence.confidentiality,
        recommendations=len(recommendations),
    )
    return evidence


# What a holder may change; the holder and who added it are facts of the record.
_CHANGEABLE_EVIDENCE_FIELDS = {
    "url", "title", "publisher", "published_on", "kind", "excerpt", "language", "archive_url", "confidentiality"
}  # fmt: skip


@transaction.atomic
def change_evidence(evidence: Evidence, *, by: User, **fields) -> list[str]:
    """Change a source's fields; returns the names of those that changed (none: nothing is written).

    Refused (ValidationError on the field) for the URL, title, excerpt, date and confidentiality of a
    source a published assessment cites: a correction is a new source and a corrective assessment.
    """
    _check_holder(evidence, by)
    unknown = set(fields) - _CHANGEABLE_EVIDENCE_FIELDS
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    was = evidence.confidentiality
    changed = [name for name, value in fields.items() if getattr(evidence, name) != value]
    if not changed:
        return []
    previous = {name: getattr(evidence, name) for name in changed}
    for name in changed:
        setattr(evidence, name, fields[name])
    try:
        evidence.full_clean()
    except ValidationError:
        # The caller's instance keeps what is stored, as the database does.
        for name, value in previous.items():
            setattr(evidence, name, value)
        raise
    # full_clean may have normalised a value back to what was stored (an address typed differently).
    stored = Evidence.objects.filter(pk=evidence.pk).values(*changed).get()
    changed = [name for name in changed if getattr(evidence, name) != stored[name]]
    if not changed:
        return []
    evidence.save(update_fields=[*changed, "updated_at"])
    linked = evidence.recommendations.values_list("pk", flat=True)
    _touch_for_sync([evidence], linked, visible_before=Evidence(confidentiality=was).leaves_organisation)
    audit.record(
        "evidence.change",
        actor=by,
        target=evidence,
        fields=changed,
        confidentiality=evidence.confidentiality,
        was=was if "confidentiality" in changed else None,
    )
    return changed


@transaction.atomic
def link_evidence(evidence: Evidence, recommendations: Iterable[Recommendation], *, by: User) -> list:
    """Link a source to the recommendations it supports; returns those newly linked. Links that exist
    already are left alone (no history row, no touch, no audit row)."""
    _check_holder(evidence, by)
    recommendations = list(recommendations)
    present = set(
        evidence.recommendations.filter(pk__in=[r.pk for r in recommendations]).values_list("pk", flat=True)
    )
    missing = [r for r in recommendations if r.pk not in present]
    if not missing:
        return []
    evidence.recommendations.add(*missing)
    _touch_for_sync([evidence], [r.pk for r in missing])
    audit.record("evidence.link", actor=by, target=evidence, recommendations=sorted(r.pk for r in missing))
    return missing


@transaction.atomic
def unlink_evidence(evidence: Evidence, recommendations: Iterable[Recommendation], *, by: User) -> list:
    """Remove a source's links to recommendations; returns those unlinked. Refused (ValidationError, code
    "cited") for a recommendation whose published assessment cites the source: the public record shows the
    source on that recommendation's page, and it stays there."""
    _check_holder(evidence, by)
    recommendations = list(recommendations)
    ids = [r.pk for r in recommendations]
    cited = Assessment.objects.published().filter(recommendation_id__in=ids, evidence=evidence)
    if cited.exists():
        raise ValidationError(
            _("A published assessment of this recommendation cites this source, so the link stays."),
            code="cited",
        )
    present = set(evidence.recommendations.filter(pk__in=ids).values_list("pk", flat=True))
    removed = [r for r in recommendations if r.pk in present]
    if not removed:
        return []
    evidence.recommendations.remove(*removed)
    _touch_for_sync([evidence], [r.pk for r in removed])
    audit.record("evidence.unlink", actor=by, target=evidence, recommendations=sorted(r.pk for r in removed))
    return removed


# --- Partner API keys ----------------------------------------------------------------------------------

KEY_PREFIX_LENGTH = 8


def hash_key(secret: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is as strong as a slow one and keeps every API
    # request cheap; only the hash is stored.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def issue_api_key(
    organisation: Organisation,
    *,
    clearance: str = KeyClearance.PUBLIC,
    name: str = "",
    expires_days: int | None = None,
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is shown once and never stored."""
    if clearance not in KeyClearance.values:
        raise ValidationError({"clearance": [_("A key's clearance is public or partners.")]})
    if expires_days is not None and expires_days <= 0:
        raise ValidationError({"expires_days": [_("Expiry must be a positive number of days.")]})
    while True:
        prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        organisation=organisation,
        name=name,
        prefix=prefix,
        hashed_key=hash_key(secret),
        clearance=clearance,
        expires_at=timezone.now() + datetime.timedelta(days=expires_days) if expires_days else None,
        created_by=created_by,
    )
    audit.record(
        "apikey.create", actor=created_by, target=key, clearance=clearance, expires_days=expires_days
    )
    return key, secret


def revoke_api_key(key: ApiKey, *, by: User | None = None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit.record("apikey.revoke", actor=by, target=key)
    return key


def authenticate_api_key(secret: str) -> ApiKey | None:
    """The usable key this secret belongs to, or None. The prefix finds the row; the hash comparison is
    constant-time so response timing says nothing about how much of a guess was right."""
    prefix, dot, _rest = secret.partition(".")
    if not dot or len(prefix) != KEY_PREFIX_LENGTH or len(secret) > 200:
        return None
    key = ApiKey.objects.select_related("organisation").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.hashed_key, hash_key(secret)) or not key.is_usable:
        return None
    now = timezone.now()
    # Written at most once a minute per key, so a busy sync does not turn every read into a write.
    if key.last_used_at is None or now - key.last_used_at > datetime.timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
