"""The one place that decides who may see or change what. Web views, the admin and the API all go through it.

A `Viewer` is whoever asks: a signed-in user (a member of one organisation), a partner API key (with a
clearance), or an anonymous visitor (public pages, when enabled). Visibility is applied in the queryset,
never after the fact, so nothing confidential is ever loaded for someone who may not see it.

- Roles: `require_role(role)` is the one role rule (membership, group, staff flag), a decorator for web
  views and, through `RoleRequirement.allows`/`refuse`, the API's permission class.
- Evidence: `evidence_q`/`visible_evidence`/`can_see_evidence`/`get_evidence_for`.
- Assessments: `visible_assessments`; `Assessment.objects.published()` is the only spelling of "published";
  `with_cited_evidence` is how every page, endpoint and admin screen shows what an assessment cites;
  `review_queue` and `open_work` are the curators' and the authors' lists; `may_change_submission` and
  `awaits_review` decide who may edit or withdraw a submission, and when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tracker.accounts import audit
from tracker.accounts.roles import is_curator, is_monitor
from tracker.notifications.models import unread_count as unread_notifications

from .collation import ByLanguage
from .models import ApiKey, Assessment, Confidentiality, Evidence, Membership, Recommendation, ReviewState
from .translations.models import with_translated_text


@dataclass(frozen=True)
class Viewer:
    user: object | None = None
    organisation_id: int | None = None
    # Confidentiality levels visible whatever organisation holds the evidence.
    levels: tuple[str, ...] = (Confidentiality.PUBLIC,)
    # Members also see their own organisation's internal evidence and unpublished assessments.
    member: bool = False

    @property
    def is_curator(self) -> bool:
        return has_role(self, CURATOR)

    @property
    def is_monitor(self) -> bool:
        return has_role(self, MONITOR)


ANONYMOUS = Viewer()


def viewer_for_user(user) -> Viewer:
    """Signed-in users see public and partners evidence, plus their own organisation's internal evidence.

    Building a viewer never writes. Every account gets its membership when it is made
    (`tracker.accounts.services.create_user`); an account without one is no member of anything and sees
    what an anonymous visitor sees (the views then refuse it).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active or user.pk is None:
        return ANONYMOUS
    _load_membership(user)
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


def _load_membership(user) -> None:
    """Read the user's membership and group names in one query, once per user object.

    Every page asks both (the viewer needs the membership, the role checks and the navigation the groups,
    which `tracker.accounts.roles` caches on the user as `_role_names`), so one query with the groups joined
    replaces two. Both end up cached on the user object: `user.membership` (or its absence) as Django caches a
    reverse one-to-one, the names where the role checks look first. Reads only.
    """
    cache = user._state.fields_cache
    if "membership" in cache:
        return
    rows = list(
        Membership.objects.filter(user_id=user.pk)
        .annotate(_group_name=F("user__groups__name"), _unread=unread_notifications("user_id"))
        .order_by()
    )
    # Django's reverse one-to-one cache: the object, or None for "has none" (then DoesNotExist, no query).
    cache["membership"] = rows[0] if rows else None
    if rows and user.__dict__.get("_role_names") is None:
        user.__dict__["_role_names"] = {row._group_name for row in rows if row._group_name}
    if rows:
        # The navigation's count of unread notifications, in the same query (no extra query on any page).
        user.__dict__["_unread_notifications"] = rows[0]._unread


def viewer_for_key(key: ApiKey) -> Viewer:
    """A key sees evidence up to its clearance and published assessments only; internal never leaves."""
    levels = (
        (Confidentiality.PUBLIC, Confidentiality.PARTNERS)
        if key.clearance == Confidentiality.PARTNERS
        else (Confidentiality.PUBLIC,)
    )
    return Viewer(organisation_id=key.organisation_id, levels=levels, member=False)


def viewer_for_clearance(organisation_id: int | None, clearance: str) -> Viewer:
    """What a key of this clearance sees, without the key: a webhook endpoint's payloads are built through
    it (tracker/webhooks), so they obey the clearance exactly as the API does."""
    return viewer_for_key(ApiKey(organisation_id=organisation_id, clearance=clearance))


def viewer_for_request(request) -> Viewer:
    key = getattr(request, "auth", None)
    if isinstance(key, ApiKey):
        return viewer_for_key(key)
    return viewer_for_user(getattr(request, "user", None))


# --- Roles ---------------------------------------------------------------------------------------------

MEMBER = "member"
MONITOR = "monitor"
CURATOR = "curator"
ROLES = (MEMBER, MONITOR, CURATOR)


def has_role(viewer: Viewer, role: str) -> bool:
    """The one role rule. Every role needs an active account with a membership (a user without one is no
    member of anything and has no role, whatever her groups say). `member`: any member (the reading pages);
    `monitor`: the Monitors or Curators group (curators record too); `curator`: the Curators group and the
    staff flag (curators work in the admin too; the flag is what lets them in), or a superuser."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")
    user = viewer.user
    if not viewer.member or user is None or not getattr(user, "is_active", False):
        return False
    if role == MEMBER:
        return True
    if role == MONITOR:
        return is_monitor(user)
    return is_curator(user) and bool(user.is_staff or user.is_superuser)


@dataclass(frozen=True)
class RoleRequirement:
    """What `require_role(role)` returns: a decorator for web views, and the rule the API's permission
    class asks (`allows`, then `refuse` to audit a refusal and get the message to show)."""

    role: str

    def allows(self, viewer: Viewer) -> bool:
        return has_role(viewer, self.role)

    def refuse(self, request: HttpRequest, viewer: Viewer) -> str:
        """Audit the refusal (`access.refused`: the role asked for, why, which view; no path or query text)
        and return the message for the person refused."""
        member = viewer.member
        # The Django request (DRF wraps it): its flag tells tracker.accounts.security's middleware, which
        # audits every other 403, that this one is recorded already.
        django_request = getattr(request, "_request", request)
        django_request.refusal_audited = True
        match = getattr(django_request, "resolver_match", None)
        audit.record(
            "access.refused",
            actor=getattr(request, "user", None),
            organisation=viewer.organisation_id,
            role=self.role,
            reason="role" if member else "no_membership",
            view=match.view_name if match is not None else None,
        )
        if not member:
            return _(
                "Your account is not a member of any organisation, so it cannot use the tracker. "
                "Ask an administrator of your organisation to add it."
            )
        return _(
            "Your account does not have the rights this page needs. If you think it should, ask a curator."
        )

    def __call__(self, view: Callable) -> Callable:
        """Decorate a view `view(request, viewer, *args)`: sign-in required (a redirect), then the role (403:
        a page that says why for a user without a membership, the usual 403 page for a missing role).

        Views put `@login_required` and their method check (`@require_POST`, …) above it, so an anonymous
        visitor is sent to sign in and a wrong method is a 405 before any role is asked; the sign-in check
        is repeated inside so the decorator is safe on its own."""

        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            viewer = viewer_for_user(request.user)
            if not self.allows(viewer):
                message = self.refuse(request, viewer)
                if not viewer.member:
                    return render(request, "cases/no_membership.html", {"message": message}, status=403)
                raise PermissionDenied(message)
            return view(request, viewer, *args, **kwargs)

        return wrapped


def require_role(role: str) -> RoleRequirement:
    """`@require_role("monitor")` on a view; `require_role("monitor").allows(viewer)` in the API."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")
    return RoleRequirement(role)


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
    except (Evidence.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None
    if not can_see_evidence(viewer, evidence):
        # The attempt is the viewer's organisation's to see, not the holder's: the holder's curators would
        # otherwise learn what another organisation's member was looking for.
        audit.record(
            "evidence.refused", actor=viewer.user, target=evidence, organisation=viewer.organisation_id
        )
        raise Http404
    record_evidence_read(viewer, evidence)
    return evidence


def record_evidence_read(viewer: Viewer, evidence: Evidence) -> None:
    """Reading internal evidence is audited (`evidence.read_internal`), on a page or through the API."""
    if evidence.confidentiality == Confidentiality.INTERNAL:
        audit.record("evidence.read_internal", actor=viewer.user, target=evidence)


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


def withheld_count(viewer: Viewer) -> Coalesce:
    """How many of an assessment's cited sources the viewer may not see: counted in the database (a
    correlated subquery on the link table), so none of them is ever loaded. Their existence is shown, never
    their content."""
    through = Assessment.evidence.through
    hidden = (
        through.objects.filter(assessment_id=OuterRef("pk"))
        .exclude(evidence_q(viewer, prefix="evidence__"))
        .order_by()
        .values("assessment_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(hidden, output_field=IntegerField()), 0)


def with_cited_evidence(
    viewer: Viewer, queryset: QuerySet | None = None, *, evidence: QuerySet | None = None
) -> QuerySet:
    """Assessments as shown to `viewer`, with what they cite: every page, endpoint and admin screen that shows
    an assessment's sources gets them from here.

    Each assessment gets `visible_evidence` (a list: the cited sources the viewer may see, newest first, or
    in the order of `evidence`, a base Evidence queryset that may also narrow the columns read) and
    `withheld_count` (an int: the cited sources the viewer may not see). One prefetch query for any number
    of assessments; the count is part of the assessments' own query. `queryset` (default: every assessment)
    is not narrowed here: pass one already cut by `visible_assessments` or `.published()`.
    """
    queryset = Assessment.objects.all() if queryset is None else queryset
    evidence = (
        Evidence.objects.order_by("-published_on", ByLanguage("title"), "pk")
        if evidence is None
        else evidence
    )
    return queryset.annotate(withheld_count=withheld_count(viewer)).prefetch_related(
        Prefetch("evidence", queryset=visible_evidence(viewer, evidence), to_attr="visible_evidence")
    )


def review_queue(viewer: Viewer) -> QuerySet:
    """The curators' queue: the submitted assessments of the curator's own organisation, oldest first; empty
    for anyone who is not a curator. A curator's own submissions are in it (shown, but four eyes keeps them
    for another curator): the dashboard's count leaves them out."""
    if not viewer.is_curator:
        return Assessment.objects.none()
    return Assessment.objects.filter(
        review_state=ReviewState.SUBMITTED, organisation_id=viewer.organisation_id
    ).order_by("created_at", "id")


def open_work(viewer: Viewer) -> QuerySet:
    """The viewer's own assessments still in review: submitted, or returned to her to revise."""
    if not viewer.member:
        return Assessment.objects.none()
    return visible_assessments(viewer).filter(
        author=viewer.user, review_state__in=[ReviewState.SUBMITTED, ReviewState.RETURNED]
    )


def get_assessment_for_review(viewer: Viewer, pk: int) -> Assessment:
    if not viewer.is_curator:
        raise Http404
    return _get_member_assessment(viewer, pk)


def may_change_submission(viewer: Viewer, assessment: Assessment) -> bool:
    """May the viewer edit or withdraw this assessment? Its author only, while she records for the
    organisation that holds it (a monitor or a curator of it); nobody else, whatever their role: a curator's
    part is to review it, another monitor's to write her own. Whether it still waits for review is
    `awaits_review`'s question."""
    return (
        has_role(viewer, MONITOR)
        and assessment.organisation_id == viewer.organisation_id
        and assessment.author_id == getattr(viewer.user, "pk", None)
    )


def awaits_review(assessment: Assessment) -> bool:
    """Submitted and not yet reviewed or withdrawn: only then may its author still edit or withdraw it."""
    return assessment.review_state == ReviewState.SUBMITTED


def get_own_submission(viewer: Viewer, pk: int) -> Assessment:
    """An assessment the viewer may edit or withdraw (`may_change_submission`), with what it cites
    (`with_cited_evidence`), in any review state (the page says why a reviewed one can no longer change).
    404 where the viewer may not know it exists (another organisation's); 403 for one she may see but not
    change (a colleague's, published or not)."""
    assessment = _get_member_assessment(viewer, pk, with_cited_evidence(viewer))
    if not may_change_submission(viewer, assessment):
        raise PermissionDenied(_("Only its author can edit or withdraw an assessment."))
    return assessment


def assessments_for_review(viewer: Viewer, pks) -> QuerySet:
    """The assessments among `pks` a curator may act on, for a bulk review: her own organisation's, in any
    review state (the workflow refuses those no longer waiting and says who acted first); none for anyone
    who is not a curator. Ids of other organisations' assessments simply find nothing."""
    if not viewer.is_curator:
        return Assessment.objects.none()
    return Assessment.objects.filter(organisation_id=viewer.organisation_id, pk__in=list(pks))


def get_own_assessment(viewer: Viewer, pk: int) -> Assessment:
    """The viewer's own assessment, with what it cites (`with_cited_evidence`); 404 for anyone else's."""
    assessment = _get_member_assessment(viewer, pk, with_cited_evidence(viewer))
    if assessment.author_id != getattr(viewer.user, "pk", None):
        raise Http404
    return assessment


def _get_member_assessment(viewer: Viewer, pk: int, queryset: QuerySet | None = None) -> Assessment:
    try:
        return (
            visible_assessments(viewer, queryset)
            .filter(organisation_id=viewer.organisation_id)
            .select_related("recommendation", "author")
            .get(pk=pk)
        )
    except (Assessment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


# --- Recommendations -----------------------------------------------------------------------------------


def get_recommendation(code: str) -> Recommendation:
    """Recommendations themselves are not confidential: every viewer who reaches the app may see them. The
    text's translation into the active language comes in the same query (`translated_text`)."""
    try:
        return with_translated_text(Recommendation.objects.select_related("document", "state_claim")).get(
            code=code
        )
    except Recommendation.DoesNotExist:
        raise Http404 from None


def exports_state_claim(review_state: str | None) -> bool:
    """A recommendation's State claim is exported (API, CSV) only when published: services only ever point
    a recommendation at a published claim, and what leaves the organisation is checked again here. Takes the
    claim's review state, so the export can decide from a row it read without the claim itself."""
    return review_state in EXPORTED_STATE_CLAIM_STATES


# The same rule as a list, for an export that the database writes itself (PostgreSQL's COPY, csv_copy.py).
EXPORTED_STATE_CLAIM_STATES = (ReviewState.PUBLISHED,)


# --- The public site (PUBLIC_SITE; cases/public) ---------------------------------------------------------
# What /public/ pages show, whoever reads them (signed in or not: a page must not show a signed-in reader
# more than the public copy of it another reader gets from a cache). Its viewer is ANONYMOUS: published
# assessments only (never submitted, returned or withdrawn), `public` evidence only, people as counts and,
# with their consent, their names. Accounts are never shown: an assessment is "a monitor's".


def public_recommendations(queryset: QuerySet | None = None) -> QuerySet:
    """Recommendations are reference data, not confidential: all of them, with what a list row shows (the
    document, the themes, the State claim's status) in a constant number of queries. Their current status
    is computed from published assessments only (services.recompute_current_status)."""
    queryset = Recommendation.objects.all() if queryset is None else queryset
    return queryset.for_list()


def visible_status_counts() -> QuerySet:
    """The maintained counts of recommendations by document and current status (cases.status_counts), for
    every viewer, signed in or not: they cover every recommendation (reference data, as above) and the
    statuses come from published assessments only, so they are exactly what anybody would count."""
    from .models import StatusCount

    return StatusCount.objects.all()


def visible_status_totals() -> QuerySet:
    """The same counts summed over the documents (cases.models.StatusTotal: at most 20 rows), for every
    viewer, for the same reasons."""
    from .models import StatusTotal

    return StatusTotal.objects.all()


def public_assessments(queryset: QuerySet | None = None) -> QuerySet:
    """Published assessments only, whoever asks."""
    return visible_assessments(ANONYMOUS, queryset)


def public_evidence(queryset: QuerySet | None = None) -> QuerySet:
    """`public` evidence only (never `partners` or `internal`, whoever holds it)."""
    return visible_evidence(ANONYMOUS, queryset)


def public_cited_evidence(queryset: QuerySet) -> QuerySet:
    """`with_cited_evidence` for the public: each assessment's public sources and the number withheld."""
    return with_cited_evidence(ANONYMOUS, queryset)


def with_public_organisation(queryset: QuerySet) -> QuerySet:
    """`public_organisation` on each assessment: the name of its organisation when that organisation chose
    to be named on the public site (`Organisation.public_name_allowed`), else None ("a monitor"). A join in
    the same query. Never an account: the author is not read."""
    from django.db.models import Case, CharField, Value, When

    return queryset.annotate(
        public_organisation=Case(
            When(organisation__public_name_allowed=True, then=F("organisation__name")),
            default=Value(None, output_field=CharField()),
            output_field=CharField(),
        )
    )


# --- What leaves the organisation: the correction log, feeds, permalinks ---------------------------------


def outside_viewer(viewer: Viewer) -> Viewer:
    """The viewer as seen from outside any organisation: her clearance levels, never `internal`, never
    unpublished work. The public pages, the correction log and every feed (a partner key's too) read
    through it, so a signed-in member sees on them exactly what the public (or her key) would."""
    levels = tuple(level for level in viewer.levels if level != Confidentiality.INTERNAL)
    return Viewer(levels=levels or (Confidentiality.PUBLIC,))


def published_changes(viewer: Viewer = ANONYMOUS, queryset: QuerySet | None = None) -> QuerySet:
    """Published assessments (publications and corrections) as they leave the organisation, newest
    publication first, each with the cited sources `viewer`'s clearance allows (`with_cited_evidence`:
    `visible_evidence` and `withheld_count`) and the assessment it corrects joined, with its own visible
    sources (`corrects.visible_evidence`). Whoever asks, only published rows: this is what feeds and
    public pages show."""
    viewer = outside_viewer(viewer)
    queryset = Assessment.objects.all() if queryset is None else queryset
    evidence = Evidence.objects.order_by("-published_on", ByLanguage("title"), "pk")
    return (
        # `outside_viewer` is no member of anything: `visible_assessments` gives it published rows only.
        with_cited_evidence(
            viewer, with_public_organisation(visible_assessments(viewer, queryset)), evidence=evidence
        )
        .select_related("recommendation", "recommendation__document", "corrects")
        .prefetch_related(
            Prefetch(
                "corrects__evidence", queryset=visible_evidence(viewer, evidence), to_attr="visible_evidence"
            )
        )
        .order_by("-published_at", "-id")
    )


def published_corrections(viewer: Viewer = ANONYMOUS, queryset: QuerySet | None = None) -> QuerySet:
    """The correction log: published assessments that correct a published one, newest first, with the
    sources of both versions `viewer`'s clearance allows (the corrected version's as
    `corrects.visible_evidence`). An unpublished correction is never in it."""
    return published_changes(viewer, queryset).filter(
        corrects__isnull=False, corrects__review_state=ReviewState.PUBLISHED
    )


def get_published_assessment(pk: int, viewer: Viewer = ANONYMOUS) -> Assessment:
    """One published assessment for its public permalink, with the sources `viewer`'s clearance allows and
    `correction_id` (the published assessment that corrects it, if any); 404 for anything unpublished,
    whose existence is not the public's to know."""
    try:
        return published_changes(viewer).with_correction().get(pk=pk)
    except (Assessment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def public_feed_evidence(viewer: Viewer) -> QuerySet:
    """Sources a feed may list as entries: what `viewer`'s clearance allows (a partners key: public and
    partners), as the API's evidence list does; never `internal`, whoever asks."""
    return visible_evidence(outside_viewer(viewer)).order_by("-created_at", "-id")


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


def admin_organisations(viewer: Viewer, queryset: QuerySet) -> QuerySet:
    """Organisations in the admin: an operator sees all; a curator her own (to choose whether the public
    site names it); anybody else none."""
    if is_operator(viewer):
        return queryset
    if viewer.member and viewer.is_curator and viewer.organisation_id:
        return queryset.filter(pk=viewer.organisation_id)
    return queryset.none()


def may_choose_public_name(viewer: Viewer, organisation_id: int | None) -> bool:
    """Whether the public site names this organisation is its own choice: its curators' (and operators')."""
    return is_operator(viewer) or (viewer.is_curator and is_own_organisation(viewer, organisation_id))


# --- Imports --------------------------------------------------------------------------------------------


def is_own_organisation(viewer: Viewer, organisation_id: int | None) -> bool:
    """Is this the viewer's own organisation? Imports (uploads in progress and their reports) are seen only
    by their organisation's curators: a file may hold what the organisation has not published."""
    return viewer.member and organisation_id is not None and organisation_id == viewer.organisation_id


def get_import_run_for(viewer: Viewer, pk: int):
    """An import report of the viewer's own organisation; 404 otherwise (even its existence is private)."""
    from .models import ImportRun

    try:
        return ImportRun.objects.select_related("created_by").get(
            pk=pk, organisation_id=viewer.organisation_id
        )
    except (ImportRun.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


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


# --- Webhooks (tracker/webhooks)


def key_webhook_endpoints(key: ApiKey, queryset: QuerySet) -> QuerySet:
    """The webhook endpoints a partner key lists and manages through the API: its own organisation's, every
    clearance (it may register none above its own: `webhook_clearance_allowed`). Nobody else's."""
    return queryset.filter(organisation_id=key.organisation_id)


def webhook_clearance_allowed(key: ApiKey, clearance: str) -> bool:
    """A key registers endpoints of its own clearance or below (a public key: public only)."""
    return clearance == Confidentiality.PUBLIC or key.clearance == Confidentiality.PARTNERS


def admin_webhook_endpoints(viewer: Viewer, queryset: QuerySet) -> QuerySet:
    """Endpoints in the admin: the curator's own organisation's (operators: all); nobody else's."""
    if not (viewer.is_curator or is_operator(viewer)):
        return queryset.none()
    return owned(viewer, queryset)


def admin_webhook_deliveries(viewer: Viewer, queryset: QuerySet) -> QuerySet:
    """The delivery log in the admin: deliveries to the endpoints `admin_webhook_endpoints` shows."""
    if not (viewer.is_curator or is_operator(viewer)):
        return queryset.none()
    return owned(viewer, queryset, path="endpoint__organisation")


# --- People


from django.db.models import (  # noqa: E402
    BooleanField,
    Case,
    CharField,
    ExpressionWrapper,
    PositiveSmallIntegerField,
    TextField,
    When,
)
from django.db.models import Value as _Value  # noqa: E402
from django.db.models.query import ModelIterable  # noqa: E402

from .people.models import NEVER_EXPORT_FIELDS, Consent, Person, PersonStatus  # noqa: E402

# What identifies a person: outside the holding organisation, only with consent. Everything else (the
# pseudonymous reference, the prefecture, the status history, the counts) may be shown to whoever may know
# the case exists.
PERSON_IDENTIFYING: dict[str, type] = {
    "name_latin": CharField,
    "name_uyghur": CharField,
    "name_chinese": CharField,
    "aliases": TextField,
    "gender": CharField,
    "birth_year": PositiveSmallIntegerField,
    "ethnicity": CharField,
    "occupation": CharField,
    "xvdb_entry": CharField,
    "wgeid_ref": CharField,
    "un_communication_ref": CharField,
    "document_refs": TextField,
    "search_key": TextField,
}


def person_q(viewer: Viewer, prefix: str = "") -> Q:
    """Which people a viewer may know exist. The holding organisation's members: all of theirs. Members of
    other organisations and partner keys: those whose confidentiality their levels include (a key never
    sees `internal`, whoever holds it). The anonymous: none (the public sees counts only). Merged records
    are reached through the survivor."""
    if viewer.organisation_id is None and not viewer.member:
        return Q(pk__in=[])
    q = Q(**{f"{prefix}confidentiality__in": list(viewer.levels)})
    if viewer.member and viewer.organisation_id:
        q |= Q(**{f"{prefix}organisation_id": viewer.organisation_id})
    return q & Q(**{f"{prefix}merged_into__isnull": True})


def person_identified_q(viewer: Viewer) -> Q:
    """Whose names and identifying details the viewer may see: the holder's members, their own people;
    anyone else, those with consent to public advocacy."""
    q = Q(consent=Consent.YES)
    if viewer.member and viewer.organisation_id:
        q |= Q(organisation_id=viewer.organisation_id)
    return q


class _RedactingIterable(ModelIterable):
    """Puts each identifying field's shown value (the database's CASE: the value or a blank) in place of
    the field, whose raw value was deferred and never read. A redacted instance (anything short of the
    holder's complete record) refuses to be saved."""

    def __iter__(self):
        for person in super().__iter__():
            for name in PERSON_IDENTIFYING:
                person.__dict__[name] = person.__dict__.pop(f"shown_{name}")
            person._redacted = not person.__dict__.pop("complete")
            yield person


def never_exported_q(name: str, prefix: str = "") -> Q:
    """People whose curator marked `name` "never export" (Person.never_export: names, space-separated)."""
    field = f"{prefix}never_export"
    return (
        Q(**{field: name})
        | Q(**{f"{field}__startswith": f"{name} "})
        | Q(**{f"{field}__endswith": f" {name}"})
        | Q(**{f"{field}__contains": f" {name} "})
    )


def _own_q(viewer: Viewer) -> Q:
    if viewer.member and viewer.organisation_id:
        return Q(organisation_id=viewer.organisation_id)
    return Q(pk__in=[])


def _field_shown_q(viewer: Viewer, name: str, *, export: bool) -> Q:
    """Where the value of identifying field `name` may be shown to `viewer`: with `person_identified_q`,
    and, if a curator marked it "never export", only on the holding organisation's own pages (never in an
    export, whoever asks)."""
    q = person_identified_q(viewer)
    if name not in NEVER_EXPORT_FIELDS:
        return q
    if export:
        return q & ~never_exported_q(name)
    return q & (_own_q(viewer) | ~never_exported_q(name))


def visible_people(viewer: Viewer, queryset: QuerySet | None = None, *, export: bool = False) -> QuerySet:
    """People as `viewer` may see them, redacted in the database: each identifying field is read through a
    CASE that yields it only where `person_identified_q` holds, so a name without consent never leaves the
    database for someone outside the holding organisation. Fields marked "never export" are shown on the
    holder's own pages only. Each row has `identified` (bool). `export`: see `exported_people`."""
    queryset = Person.objects.all() if queryset is None else queryset
    identified = person_identified_q(viewer)
    shown = {}
    for name, field in PERSON_IDENTIFYING.items():
        blank = _Value(None, output_field=field()) if field is PositiveSmallIntegerField else _Value("")
        condition = _field_shown_q(viewer, name, export=export)
        shown[f"shown_{name}"] = Case(When(condition, then=F(name)), default=blank, output_field=field())
    complete = _own_q(viewer) & Q(never_export="") if export else _own_q(viewer)
    queryset = (
        queryset.filter(person_q(viewer))
        .defer(*PERSON_IDENTIFYING)
        .annotate(
            identified=ExpressionWrapper(identified, output_field=BooleanField()),
            complete=ExpressionWrapper(complete, output_field=BooleanField()),
            **shown,
        )
    )
    queryset._iterable_class = _RedactingIterable
    return queryset


def exported_people(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    """People as they leave through the API (JSON, CSV) and any download: `visible_people`, and the fields
    a curator marked "never export" blank for everyone, the holder's own members and sessions included."""
    return visible_people(viewer, queryset, export=True)


def people_count_base(viewer: Viewer) -> QuerySet:
    """The people counted for `viewer` (the recommendation page's counts): those she may know exist; for
    the public, the public cases (their number only, never a row)."""
    if viewer.organisation_id is None and not viewer.member:
        return Person.objects.active().filter(confidentiality=Confidentiality.PUBLIC)
    return Person.objects.filter(person_q(viewer))


_NAME_FIELDS = ("name_latin", "name_uyghur", "name_chinese", "aliases")


def people_search_q(viewer: Viewer, forms: list[str], raw: str, *, export: bool = False) -> Q:
    """A search across scripts: the reference and prefecture for anyone; names, aliases and external
    references only among the people whose names the viewer may see (a match on a hidden name would tell
    that the name is on record), and each only where the field itself may be shown (`_field_shown_q`: a
    field marked "never export" is searched on the holder's own pages only, never through the API)."""
    raw = raw.strip()
    q = Q(reference__iexact=raw) | Q(prefecture__icontains=raw)
    names = Q(pk__in=[])
    # The search key holds every name and alias: searched only where all of them may be shown.
    key_shown = Q()
    for field in _NAME_FIELDS:
        key_shown &= _field_shown_q(viewer, field, export=export)
    for form in forms:
        names |= key_shown & Q(search_key__icontains=form)
    for field in _NAME_FIELDS:
        names |= _field_shown_q(viewer, field, export=export) & Q(**{f"{field}__icontains": raw})
    for field in ("xvdb_entry", "wgeid_ref", "un_communication_ref"):
        names |= _field_shown_q(viewer, field, export=export) & Q(**{f"{field}__iexact": raw})
    return q | names


def get_person_for(viewer: Viewer, reference: str, queryset: QuerySet | None = None) -> Person:
    """One person, redacted for the viewer, and the read audited (`person.read`); 404 where even the
    case's existence is not the viewer's to know."""
    try:
        person = visible_people(viewer, queryset).select_related("organisation").get(reference=reference)
    except (Person.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    record_person_read(viewer, person)
    return person


def record_person_read(viewer: Viewer, person: Person, actor=None) -> None:
    """Every read of a person's record is audited, with whether the names were shown."""
    audit.record(
        "person.read",
        actor=actor or viewer.user,
        target=person,
        organisation=viewer.organisation_id,
        identified=bool(getattr(person, "identified", False)),
    )


def holds_person(viewer: Viewer, person: Person) -> bool:
    """Is the viewer a member of the organisation that holds the record (and so may add to it)?"""
    return viewer.member and person.organisation_id == viewer.organisation_id


def person_status_q(viewer: Viewer, person: Person) -> Q:
    """A person's status entries: the holder's members see them in review too; anyone else, published."""
    if holds_person(viewer, person):
        return Q()
    return Q(review_state=ReviewState.PUBLISHED)


def visible_person_statuses(viewer: Viewer, person: Person) -> QuerySet:
    return PersonStatus.objects.filter(person=person).filter(person_status_q(viewer, person))


def person_review_queue(viewer: Viewer) -> QuerySet:
    """Submitted status entries of the curator's organisation, oldest first; empty for anyone else."""
    if not viewer.is_curator:
        return PersonStatus.objects.none()
    return PersonStatus.objects.filter(
        review_state=ReviewState.SUBMITTED, organisation_id=viewer.organisation_id
    ).order_by("created_at", "id")


def get_person_status_for_review(viewer: Viewer, pk: int) -> PersonStatus:
    try:
        return person_review_queue(viewer).select_related("person").get(pk=pk)
    except (PersonStatus.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def may_cite_people_counts(viewer: Viewer) -> bool:
    """Citing a recommendation's people counts in an assessment (a dated snapshot, counts only, as an
    internal source of her organisation): whoever records assessments, a monitor."""
    return has_role(viewer, MONITOR)


def may_mark_never_export(viewer: Viewer, organisation_id: int | None) -> bool:
    """Which fields of a person never leave through an export is a curator's decision, of the holding
    organisation only."""
    return viewer.is_curator and organisation_id is not None and organisation_id == viewer.organisation_id


def admin_people(viewer: Viewer, queryset: QuerySet | None = None) -> QuerySet:
    """People in the admin: the viewer's own organisation's only (operators: all). Another organisation's
    cases are never curated here, so the admin needs no redaction."""
    queryset = Person.objects.all() if queryset is None else queryset
    return owned(viewer, queryset)


# --- People on the public site (cases/public)


def public_people(queryset: QuerySet | None = None) -> QuerySet:
    """The people the public site counts and names: not merged, `public`, and with consent to public
    advocacy. Nobody else is counted or named on a public page, whatever the holder's other settings."""
    queryset = Person.objects.all() if queryset is None else queryset
    return queryset.filter(
        merged_into__isnull=True, confidentiality=Confidentiality.PUBLIC, consent=Consent.YES
    )


PUBLIC_NAME_FIELDS = ("name_latin", "name_uyghur", "name_chinese")


def public_people_names(queryset: QuerySet) -> QuerySet:
    """The names of `public_people` (consented, so they may be named), read as values: `reference`,
    `shown_<name>` for each script (blank, in the database, where a curator marked it "never export": a public
    page is the widest export there is) and `current_status`; nothing else about them leaves."""
    shown = {
        f"shown_{name}": Case(
            When(~never_exported_q(name), then=F(name)), default=_Value(""), output_field=CharField()
        )
        for name in PUBLIC_NAME_FIELDS
    }
    return public_people(queryset).annotate(**shown).values("reference", *shown, "current_status")
