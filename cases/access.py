"""The one place that decides who may see or change what. Web views, the admin and the API all go through it.

A `Viewer` is whoever asks: a signed-in user (a member of one organisation), a partner API key (with a
clearance), or an anonymous visitor (public pages, when enabled). Visibility is applied in the queryset,
never after the fact, so nothing confidential is ever loaded for someone who may not see it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404

from tracker.accounts.roles import is_curator, is_monitor

from .models import ApiKey, Assessment, Confidentiality, Evidence, Membership, Recommendation, ReviewState

security_log = logging.getLogger("security")


@dataclass(frozen=True)
class Viewer:
    user: object | None = None
    organisation_id: int | None = None
    # Confidentiality levels visible whatever organisation holds the evidence.
    levels: tuple[str, ...] = (Confidentiality.PUBLIC,)
    # Members also see their own organisation's internal evidence and unpublished assessments.
    member: bool = False
    key: ApiKey | None = field(default=None, compare=False)

    @property
    def is_curator(self) -> bool:
        return self.member and is_curator(self.user)

    @property
    def is_monitor(self) -> bool:
        return self.member and is_monitor(self.user)


ANONYMOUS = Viewer()


def viewer_for_user(user) -> Viewer:
    """Signed-in users see public and partners evidence, plus their own organisation's internal evidence.

    Building a viewer never writes. Every account gets its membership when it is made
    (`tracker.accounts.services.create_user`); an account without one is no member of anything and sees
    what an anonymous visitor sees (the views then refuse it).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ANONYMOUS
    try:
        organisation_id = user.membership.organisation_id
    except Membership.DoesNotExist:
        return ANONYMOUS
    return Viewer(
        user=user,
        organisation_id=organisation_id,
        levels=(Confidentiality.PUBLIC, Confidentiality.PARTNERS),
        member=True,
    )


def viewer_for_key(key: ApiKey) -> Viewer:
    """A key sees evidence up to its clearance and published assessments only; internal never leaves."""
    levels = (
        (Confidentiality.PUBLIC, Confidentiality.PARTNERS)
        if key.clearance == Confidentiality.PARTNERS
        else (Confidentiality.PUBLIC,)
    )
    return Viewer(organisation_id=key.organisation_id, levels=levels, member=False, key=key)


def viewer_for_request(request) -> Viewer:
    key = getattr(request, "auth", None)
    if isinstance(key, ApiKey):
        return viewer_for_key(key)
    return viewer_for_user(getattr(request, "user", None))


# --- Evidence ------------------------------------------------------------------------------------------


def evidence_q(viewer: Viewer, prefix: str = "") -> Q:
    """The condition that makes evidence visible to the viewer (prefix for use across relations)."""
    q = Q(**{f"{prefix}confidentiality__in": list(viewer.levels)})
    if viewer.member and viewer.organisation_id:
        q |= Q(
            **{
                f"{prefix}confidentiality": Confidentiality.INTERNAL,
                f"{prefix}organisation_id": viewer.organisation_id,
            }
        )
    return q


def visible_evidence(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    queryset = Evidence.objects.all() if queryset is None else queryset
    return queryset.filter(evidence_q(viewer))


def can_see_evidence(viewer: Viewer, evidence: Evidence) -> bool:
    if evidence.confidentiality in viewer.levels:
        return True
    return (
        viewer.member
        and evidence.confidentiality == Confidentiality.INTERNAL
        and evidence.organisation_id == viewer.organisation_id
    )


def get_evidence_for(viewer: Viewer, pk: int) -> Evidence:
    """404 where even existence is confidential."""
    try:
        evidence = Evidence.objects.select_related("organisation").get(pk=pk)
    except (Evidence.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if not can_see_evidence(viewer, evidence):
        security_log.info("refused evidence id=%s user=%s", pk, getattr(viewer.user, "pk", None))
        raise Http404
    if evidence.confidentiality == Confidentiality.INTERNAL:
        security_log.info("read internal evidence id=%s user=%s", pk, getattr(viewer.user, "pk", None))
    return evidence


# --- Assessments ---------------------------------------------------------------------------------------


def assessment_q(viewer: Viewer, prefix: str = "") -> Q:
    """Published assessments for everyone; members also see their own organisation's unpublished ones."""
    q = Q(**{f"{prefix}review_state": ReviewState.PUBLISHED})
    if viewer.member and viewer.organisation_id:
        q |= Q(**{f"{prefix}organisation_id": viewer.organisation_id})
    return q


def visible_assessments(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    queryset = Assessment.objects.all() if queryset is None else queryset
    return queryset.filter(assessment_q(viewer))


def published_assessments(queryset: QuerySet | None = None) -> QuerySet:
    """What leaves the organisation (API, exports, public pages): published only, whoever asks."""
    queryset = Assessment.objects.all() if queryset is None else queryset
    return queryset.filter(review_state=ReviewState.PUBLISHED)


def get_assessment_for_review(viewer: Viewer, pk: int) -> Assessment:
    if not viewer.is_curator:
        raise Http404
    return _get_member_assessment(viewer, pk)


def get_own_assessment(viewer: Viewer, pk: int) -> Assessment:
    assessment = _get_member_assessment(viewer, pk)
    if assessment.author_id != getattr(viewer.user, "pk", None):
        raise Http404
    return assessment


def _get_member_assessment(viewer: Viewer, pk: int) -> Assessment:
    try:
        return (
            visible_assessments(viewer)
            .filter(organisation_id=viewer.organisation_id)
            .select_related("recommendation", "author")
            .get(pk=pk)
        )
    except (Assessment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- Recommendations -----------------------------------------------------------------------------------


def get_recommendation(code: str) -> Recommendation:
    """Recommendations themselves are not confidential: every viewer who reaches the app may see them."""
    try:
        return Recommendation.objects.select_related("document", "state_claim").get(code=code)
    except Recommendation.DoesNotExist:
        raise Http404 from None


# --- Accounts


def visible_users(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    """The accounts a viewer may see and administer: a superuser sees all; a curator her own
    organisation's members; anybody else none."""
    from django.contrib.auth import get_user_model

    queryset = get_user_model().objects.all() if queryset is None else queryset
    if viewer.user is not None and getattr(viewer.user, "is_superuser", False):
        return queryset
    if not viewer.is_curator:
        return queryset.none()
    return queryset.filter(membership__organisation_id=viewer.organisation_id)


# --- Admin scoping


def is_operator(viewer: Viewer) -> bool:
    """Instance operators (active superusers) administer every organisation; nobody else does."""
    user = viewer.user
    return bool(user is not None and getattr(user, "is_superuser", False) and user.is_active)


def viewer_for_admin(user) -> Viewer:
    """The admin's viewer: a member as everywhere else. An operator without a membership is still herself
    (not the anonymous viewer), so `is_operator` recognises her."""
    viewer = viewer_for_user(user)
    if viewer.user is None and getattr(user, "is_superuser", False) and user.is_active:
        return Viewer(user=user, levels=(Confidentiality.PUBLIC, Confidentiality.PARTNERS))
    return viewer


def owned_q(viewer: Viewer, path: str = "organisation") -> Q:
    """The rows an organisation owns (evidence, assessments, their transitions, keys) that this viewer
    administers: her own organisation's; an operator's, all. `path` leads to the owning organisation."""
    if is_operator(viewer):
        return Q()
    if not viewer.member or not viewer.organisation_id:
        return Q(pk__in=[])
    return Q(**{f"{path}_id": viewer.organisation_id})


def owned(viewer: Viewer, queryset: QuerySet, path: str = "organisation") -> QuerySet:
    """`queryset` cut to the rows the viewer's organisation owns (operators: unchanged)."""
    return queryset.filter(owned_q(viewer, path))


def administers(viewer: Viewer, organisation_id: int | None) -> bool:
    """May the viewer change what this organisation owns? Its own members (curators, in the admin) and
    operators only; reading is decided by the visibility functions above."""
    return is_operator(viewer) or (viewer.member and organisation_id == viewer.organisation_id)


def admin_evidence(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    """Evidence listed in the admin: what the viewer may see anywhere else (operators: all)."""
    queryset = Evidence.objects.all() if queryset is None else queryset
    return queryset if is_operator(viewer) else visible_evidence(viewer, queryset)


def admin_evidence_versions(viewer: Viewer, versions: QuerySet) -> QuerySet:
    """Historical versions of evidence the viewer may see. Each version is judged by the confidentiality
    and holder it had then, so text that was internal to another organisation stays hidden after the item
    is redacted and made public."""
    return versions if is_operator(viewer) else versions.filter(evidence_q(viewer))


def admin_assessments(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    """Assessments listed in the admin: published ones and the viewer's own organisation's (operators:
    all). Their review trail (transitions, return comments) is the owning organisation's alone: `owned`."""
    queryset = Assessment.objects.all() if queryset is None else queryset
    return queryset if is_operator(viewer) else visible_assessments(viewer, queryset)
