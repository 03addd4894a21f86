"""Every write about people: adding and changing a person, linking recommendations, status entries through
the same four-eyes review as assessments, and merging duplicates. Views, the admin and tests go through
these functions; each writes its audit row inside its transaction.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Evidence, Recommendation, ReviewState
from cases.services import _check_reviewer, _check_transition, organisation_of
from tracker.accounts import audit

from . import dedupe
from .models import (
    Person,
    PersonStatus,
    PersonStatusKind,
    PersonStatusTransition,
    canonical_never_export,
    never_export_names,
    validate_never_export,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Crockford's base 32 without the letters people misread (I, L, O, U).
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PERSON_FIELDS = {
    "name_latin",
    "name_uyghur",
    "name_chinese",
    "aliases",
    "gender",
    "birth_year",
    "ethnicity",
    "prefecture",
    "occupation",
    "xvdb_entry",
    "wgeid_ref",
    "un_communication_ref",
    "document_refs",
    "consent",
    "risk",
    "confidentiality",
    "never_export",
}


def _new_reference(length: int) -> str:
    return "P-" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _refuse_redacted(person: Person) -> None:
    # An instance read through access.visible_people may carry blanks in place of names: saving it would
    # erase them.
    if getattr(person, "_redacted", False):
        raise PermissionDenied("A redacted person cannot be saved.")


@transaction.atomic
def add_person(*, created_by: User, recommendations: Iterable[Recommendation] = (), **fields) -> Person:
    """Record a person, held by the author's organisation, with a new pseudonymous reference (four
    characters; longer if the short ones run out)."""
    unknown = set(fields) - PERSON_FIELDS
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    organisation = organisation_of(created_by)
    _clean_never_export(fields, by=created_by, organisation_id=organisation.pk)
    person = Person(organisation=organisation, created_by=created_by, **fields)
    if not dedupe.names_of(person) and not person.xvdb_entry and not person.wgeid_ref:
        raise ValidationError({"name_latin": [_("Give at least one name or an external reference.")]})
    person.search_key = dedupe.search_key(person)
    person.full_clean(exclude=["reference", "recommendations"])
    for attempt in range(20):
        person.reference = _new_reference(4 if attempt < 10 else 6)
        if Person.objects.filter(reference=person.reference).exists():
            continue
        try:
            with transaction.atomic():
                person.save()
            break
        except IntegrityError:
            if Person.objects.filter(reference=person.reference).exists():
                continue
            raise
    recommendations = list(recommendations)
    if recommendations:
        person.recommendations.add(*recommendations)
    audit.record(
        "person.add", actor=created_by, target=person, consent=person.consent, links=len(recommendations)
    )
    _record_never_export(person, by=created_by, was="")
    return person


def _check_holder(person: Person, user: User) -> None:
    if person.organisation_id != organisation_of(user).pk:
        raise PermissionDenied(_("Only the organisation that holds this record can change it."))


def _clean_never_export(fields: dict, *, by: User, organisation_id: int, was: str = "") -> None:
    """Canonicalise a `never_export` value in `fields` (a string of names, or a list of them) and refuse
    a change by anyone but a curator of the holding organisation (access.may_mark_never_export)."""
    from cases import access

    if "never_export" not in fields:
        return
    value = fields["never_export"]
    names = value.split() if isinstance(value, str) else list(value or ())
    try:
        validate_never_export(" ".join(names))
    except ValidationError as exc:
        raise ValidationError({"never_export": exc.messages}) from None
    fields["never_export"] = canonical_never_export(names)
    if fields["never_export"] != was and not access.may_mark_never_export(
        access.viewer_for_user(by), organisation_id
    ):
        raise PermissionDenied(_("Only a curator of the holding organisation marks fields “never export”."))


def _record_never_export(person: Person, *, by: User, was: str) -> None:
    before, after = set(never_export_names(was)), person.never_export_set
    if before != after:
        audit.record(
            "person.never_export",
            actor=by,
            target=person,
            added=canonical_never_export(after - before).split(),
            removed=canonical_never_export(before - after).split(),
        )


@transaction.atomic
def change_person(person: Person, *, by: User, **fields) -> Person:
    """Change a person's details (the holding organisation's members only); the search key follows."""
    _refuse_redacted(person)
    _check_holder(person, by)
    unknown = set(fields) - PERSON_FIELDS
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    was = person.never_export
    _clean_never_export(fields, by=by, organisation_id=person.organisation_id, was=was)
    changed = sorted(name for name, value in fields.items() if getattr(person, name) != value)
    for name in changed:
        setattr(person, name, fields[name])
    person.search_key = dedupe.search_key(person)
    person.full_clean(exclude=["reference", "recommendations"])
    person.save()
    if changed:
        audit.record("person.change", actor=by, target=person, fields=changed)
    _record_never_export(person, by=by, was=was)
    return person


@transaction.atomic
def link_person(person: Person, recommendations: Iterable[Recommendation], *, by: User) -> None:
    _check_holder(person, by)
    recommendations = list(recommendations)
    person.recommendations.add(*recommendations)
    Person.objects.filter(pk=person.pk).update(updated_at=timezone.now())
    audit.record("person.link", actor=by, target=person, recommendations=[r.pk for r in recommendations])


# --- Status entries: the assessments' review pipeline (cases.services.TRANSITIONS) -------------------------


def _record(entry: PersonStatus, from_state: str, to_state: str, actor: User, comment: str = "") -> None:
    PersonStatusTransition.objects.create(
        entry=entry, from_state=from_state, to_state=to_state, actor=actor, comment=comment
    )


@transaction.atomic
def submit_status(
    person: Person,
    *,
    author: User,
    status: str,
    basis: str,
    occurred_on: datetime.date,
    facility_type: str = "",
    term: str = "",
    charge: str = "",
    note: str = "",
    evidence: Iterable[Evidence] = (),
    corrects: PersonStatus | None = None,
) -> PersonStatus:
    """Record a dated status entry, submitted for review: nothing changes in the person's current status
    until another curator publishes it."""
    _check_transition("", ReviewState.SUBMITTED)
    _check_holder(person, author)
    errors: dict[str, list[str]] = {}
    if occurred_on > timezone.now().date():
        errors["occurred_on"] = [_("The date a status speaks for cannot be in the future.")]
    if facility_type and status not in {
        PersonStatusKind.DETAINED,
        PersonStatusKind.SENTENCED,
        PersonStatusKind.TRANSFERRED,
    }:
        errors["facility_type"] = [_("A facility type describes a detention.")]
    if corrects is not None and (
        corrects.person_id != person.pk or corrects.review_state != ReviewState.PUBLISHED
    ):
        errors["corrects"] = [_("Only a published entry of the same person can be corrected.")]
    if errors:
        raise ValidationError(errors)
    entry = PersonStatus(
        person=person,
        status=status,
        basis=basis,
        occurred_on=occurred_on,
        facility_type=facility_type,
        term=term,
        charge=charge,
        note=note,
        corrects=corrects,
        author=author,
        organisation_id=person.organisation_id,
    )
    entry.full_clean(exclude=["evidence", "person"])
    entry.save()
    evidence = list(evidence)
    if evidence:
        entry.evidence.set(evidence)
    _record(entry, "", ReviewState.SUBMITTED, author)
    audit.record("person.status_submit", actor=author, target=entry, person=person.pk, status=status)
    return entry


def _lock(entry: PersonStatus) -> PersonStatus:
    Person.objects.select_for_update().only("pk").get(pk=entry.person_id)
    return PersonStatus.objects.select_for_update().select_related("person").get(pk=entry.pk)


def _check_same_organisation(entry: PersonStatus, reviewer: User) -> None:
    if entry.organisation_id != organisation_of(reviewer).pk:
        raise PermissionDenied(_("Only curators of the holding organisation review its entries."))


@transaction.atomic
def publish_status(entry: PersonStatus, *, reviewer: User) -> PersonStatus:
    """Publish a submitted entry (a curator of the holding organisation other than its author, by the
    assessments' four-eyes rule); the person's current status is recomputed in the same transaction."""
    current = _lock(entry)
    _check_transition(current.review_state, ReviewState.PUBLISHED)
    _check_same_organisation(current, reviewer)
    _check_reviewer(current, reviewer)
    current.review_state = ReviewState.PUBLISHED
    current.reviewer = reviewer
    current.published_at = timezone.now()
    current.save(update_fields=["review_state", "reviewer", "published_at", "updated_at"])
    _record(current, ReviewState.SUBMITTED, ReviewState.PUBLISHED, reviewer)
    recompute_person_status(current.person)
    audit.record(
        "person.status_publish",
        actor=reviewer,
        target=current,
        person=current.person_id,
        author=current.author_id,
    )
    entry.__dict__.update({k: v for k, v in current.__dict__.items() if k != "_state"})
    return current


@transaction.atomic
def return_status(entry: PersonStatus, *, reviewer: User, comment: str) -> PersonStatus:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": [_("Say what the author should change.")]})
    current = _lock(entry)
    _check_transition(current.review_state, ReviewState.RETURNED)
    _check_same_organisation(current, reviewer)
    _check_reviewer(current, reviewer)
    current.review_state = ReviewState.RETURNED
    current.reviewer = reviewer
    current.review_comment = comment
    current.save(update_fields=["review_state", "reviewer", "review_comment", "updated_at"])
    _record(current, ReviewState.SUBMITTED, ReviewState.RETURNED, reviewer, comment)
    audit.record("person.status_return", actor=reviewer, target=current, author=current.author_id)
    entry.__dict__.update({k: v for k, v in current.__dict__.items() if k != "_state"})
    return current


def recompute_person_status(person: Person) -> None:
    """The person's current status: the latest published entry by the date it speaks for, then by
    publication; corrected entries give way to their corrections."""
    latest = (
        PersonStatus.objects.published()
        .filter(person_id=person.pk)
        .exclude(
            # NOT IN with a NULL in the list matches nothing: only entries that correct something.
            pk__in=PersonStatus.objects.published()
            .filter(person_id=person.pk, corrects__isnull=False)
            .values("corrects")
        )
        .order_by("-occurred_on", "-published_at", "-id")
        .first()
    )
    Person.objects.filter(pk=person.pk).update(
        current_status=latest.status if latest else "",
        current_facility=latest.facility_type if latest else "",
        status_on=latest.occurred_on if latest else None,
        updated_at=timezone.now(),
    )


# --- Duplicates --------------------------------------------------------------------------------------------

CANDIDATE_LIMIT = 2000


def likely_duplicates(
    organisation_id: int,
    *,
    names: list[str],
    birth_year: int | None = None,
    prefecture: str = "",
    refs: dict | None = None,
    exclude_pk: int | None = None,
    limit: int = 10,
) -> list[dedupe.Match]:
    """The organisation's people who are likely the one described, best first. Candidates are narrowed in
    the database (a shared external reference, birth year, prefecture, or a name's skeleton in the search
    key), then scored with rapidfuzz."""
    from django.db.models import Q

    refs = refs or {}
    q = Q(pk__in=[])
    for field, value in refs.items():
        if value:
            q |= Q(**{f"{field}__iexact": value.strip()})
    if birth_year:
        q |= Q(birth_year__range=(birth_year - 1, birth_year + 1))
    if prefecture:
        q |= Q(prefecture__iexact=prefecture.strip())
    for name in names:
        for word in dedupe.skeleton(dedupe.fold(name)).split():
            if len(word) >= 3:
                q |= Q(search_key__icontains=word)
    candidates = Person.objects.active().filter(organisation_id=organisation_id).filter(q)
    if exclude_pk:
        candidates = candidates.exclude(pk=exclude_pk)
    matches = []
    for person in candidates.only(
        "pk", "reference", "search_key", "birth_year", "prefecture", *dedupe.EXTERNAL_REFS, "name_latin"
    )[:CANDIDATE_LIMIT]:
        match = dedupe.score(names, person, birth_year=birth_year, prefecture=prefecture, refs=refs)
        if match:
            matches.append(match)
    matches.sort(key=lambda m: (-m.score, m.person.reference))
    return matches[:limit]


@transaction.atomic
def merge_people(survivor: Person, duplicate: Person, *, by: User) -> Person:
    """Merge `duplicate` into `survivor` (a curator of the organisation holding both): the duplicate's
    status entries and recommendation links move to the survivor, its names become the survivor's aliases,
    and the duplicate row stays, pointing at the survivor, so both histories and the old reference remain."""
    from tracker.accounts.roles import is_curator

    if not is_curator(by):
        raise PermissionDenied(_("Only curators merge records."))
    _refuse_redacted(survivor)
    _refuse_redacted(duplicate)
    survivor = Person.objects.select_for_update().get(pk=survivor.pk)
    duplicate = Person.objects.select_for_update().get(pk=duplicate.pk)
    _check_holder(survivor, by)
    _check_holder(duplicate, by)
    if survivor.pk == duplicate.pk or duplicate.merged_into_id or survivor.merged_into_id:
        raise ValidationError(_("These two records cannot be merged."))
    # Every spelling the duplicate was recorded under stays findable (search and dedupe read aliases too).
    known = {name.strip() for name in dedupe.names_of(survivor)}
    aliases = [line for line in survivor.aliases.splitlines() if line.strip()]
    for name in dedupe.names_of(duplicate):
        if name.strip() not in known:
            aliases.append(name.strip())
            known.add(name.strip())
    survivor.aliases = "\n".join(aliases)
    for field in ("birth_year", "prefecture", "ethnicity", "occupation", *dedupe.EXTERNAL_REFS):
        if not getattr(survivor, field) and getattr(duplicate, field):
            setattr(survivor, field, getattr(duplicate, field))
    # What either record kept from exports stays kept (the stricter of the two).
    never_export_was = survivor.never_export
    survivor.never_export = canonical_never_export(survivor.never_export_set | duplicate.never_export_set)
    survivor.search_key = dedupe.search_key(survivor)
    survivor.save()
    _record_never_export(survivor, by=by, was=never_export_was)
    moved = PersonStatus.objects.filter(person=duplicate).update(person=survivor, updated_at=timezone.now())
    survivor.recommendations.add(*duplicate.recommendations.all())
    duplicate.merged_into = survivor
    duplicate.save(update_fields=["merged_into", "updated_at"])
    recompute_person_status(survivor)
    audit.record("person.merge", actor=by, target=survivor, merged=duplicate.pk, entries=moved)
    return survivor


# --- Counts as evidence ------------------------------------------------------------------------------------


def count_people(viewer, recommendation: Recommendation) -> dict[str, int]:
    """How many of the people linked to `recommendation` whom `viewer` may know of (access.people_count_base)
    are in each current status; people without a published status are not counted. One query."""
    from django.db.models import Count

    from cases import access

    return dict(
        access.people_count_base(viewer)
        .filter(recommendations=recommendation)
        .exclude(current_status="")
        .order_by()
        .values("current_status")
        .annotate(n=Count("pk", distinct=True))
        .values_list("current_status", "n")
    )


def counts_text(counts: dict[str, int]) -> str:
    """ "3 detained, 1 released": in the order of the statuses, as the recommendation page shows them."""
    return ", ".join(
        f"{counts[value]} {str(label).lower()}"
        for value, label in PersonStatusKind.choices
        if counts.get(value)
    )


@transaction.atomic
def cite_people_counts(recommendation: Recommendation, *, by: User) -> Evidence:
    """A dated snapshot of the people counts `by` sees on the recommendation's page, recorded as an internal
    source of her organisation (kind `dataset`) linked to the recommendation, so an assessment can cite it.
    Counts only: the text says how many of each status, on which date, and from which cases (her
    organisation's, others' shared with her); never a name or a reference."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import translation
    from django.utils.http import urlencode

    from cases import access
    from cases.models import EvidenceKind
    from cases.services import add_evidence

    viewer = access.viewer_for_user(by)
    if not access.may_cite_people_counts(viewer):
        raise PermissionDenied(_("Only monitors cite people counts in an assessment."))
    counts = count_people(viewer, recommendation)
    if not counts:
        raise ValidationError(
            _("No people with a status are linked to this recommendation: there is nothing to cite.")
        )
    total = sum(counts.values())
    own = (
        access.people_count_base(viewer)
        .filter(recommendations=recommendation, organisation_id=viewer.organisation_id)
        .exclude(current_status="")
        .count()
    )
    organisation = organisation_of(by)
    now = timezone.now()
    today = timezone.localdate(now)
    params = {"code": recommendation.code, "date": today.isoformat()}
    with translation.override(settings.LANGUAGE_CODE):
        path = reverse("cases:people-list")
    # A source is one address: the people list of the recommendation, told apart by the moment of the count.
    query = urlencode(
        {"recommendation": recommendation.code, "snapshot": f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"}
    )
    evidence = add_evidence(
        added_by=by,
        recommendations=[recommendation],
        url=f"{settings.SITE_URL}{path}?{query}",
        title=_("People linked to %(code)s: counts as of %(date)s") % params,
        publisher=organisation.name[:200],
        published_on=today,
        kind=EvidenceKind.DATASET,
        excerpt=_(
            "People linked to %(code)s by current status on %(date)s: %(counts)s. Counted from the cases "
            "this account could see: %(own)d held by %(organisation)s, %(shared)d shared by other "
            "organisations. Counts only: no names or references."
        )
        % {
            **params,
            "counts": counts_text(counts),
            "own": own,
            "organisation": organisation.name,
            "shared": total - own,
        },
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    audit.record(
        "person.counts_cite", actor=by, target=evidence, recommendation=recommendation.pk, people=total
    )
    return evidence
