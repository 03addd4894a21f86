"""/api/v1/people/: read-only, redacted by consent and clearance in the database (access.exported_people).

A partner key sees the people its clearance allows (`public` or `partners` confidentiality; `internal`
never leaves through a key); a name and every identifying detail travel only with consent (`yes`), or to
the holding organisation's own signed-in members. Status entries are the published ones only, without
their free-text note. Fields a curator marked "never export" are empty for everyone, the holder's own
members included, and the search does not match them. Every detail read is audited (`person.read`), every list page (`person.list`).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from cases import access
from cases.models import Recommendation
from cases.people.forms import PersonFilter
from cases.people.models import Person, PersonStatus
from tracker.accounts import audit

from .views import ApiMixin

STATUS_HELP = {
    "status": _("Status (machine code)."),
    "facility_type": _("Facility type of a detention (machine code); may be empty."),
    "term": _("Sentence term as stated; may be empty."),
    "charge": _("Charge as stated; may be empty."),
    "basis": _("What the entry rests on (machine code)."),
    "occurred_on": _("The date the status speaks for."),
    "published_at": _("When the entry was published (UTC)."),
}
_IDENTIFYING = _("Empty (null) unless `identified`.")
PERSON_HELP = {
    "reference": _("Stable pseudonymous reference, e.g. P-7F3K."),
    "name_latin": _IDENTIFYING,
    "name_uyghur": _IDENTIFYING,
    "name_chinese": _IDENTIFYING,
    "aliases": _IDENTIFYING,
    "gender": _IDENTIFYING,
    "birth_year": _IDENTIFYING,
    "ethnicity": _IDENTIFYING,
    "occupation": _IDENTIFYING,
    "xvdb_entry": _IDENTIFYING,
    "wgeid_ref": _IDENTIFYING,
    "un_communication_ref": _IDENTIFYING,
    "prefecture": _("Place of origin (prefecture)."),
    "current_status": _("Latest published status (machine code); empty if none."),
    "current_facility": _("Facility type of the latest published status; may be empty."),
    "status_on": _("Date of the latest published status."),
    "updated_at": _("Last change (UTC)."),
}


class PersonStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = PersonStatus
        fields = ["status", "facility_type", "term", "charge", "basis", "occurred_on", "published_at"]
        extra_kwargs = {name: {"help_text": text} for name, text in STATUS_HELP.items()}


class PersonSerializer(serializers.ModelSerializer):
    identified = serializers.BooleanField(
        read_only=True, help_text=_("Whether names and identifying details are included (consent).")
    )
    recommendations = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True, help_text=_("Codes of the recommendations linked.")
    )
    statuses = PersonStatusSerializer(
        source="published_statuses", many=True, read_only=True, help_text=_("Published status entries.")
    )

    class Meta:
        model = Person
        # Explicit, stable public names. Identifying fields are empty (or null) unless `identified`.
        fields = [
            "reference",
            "identified",
            "name_latin",
            "name_uyghur",
            "name_chinese",
            "aliases",
            "gender",
            "birth_year",
            "ethnicity",
            "occupation",
            "xvdb_entry",
            "wgeid_ref",
            "un_communication_ref",
            "prefecture",
            "current_status",
            "current_facility",
            "status_on",
            "recommendations",
            "statuses",
            "updated_at",
        ]
        extra_kwargs = {name: {"help_text": text} for name, text in PERSON_HELP.items()}


class ApiPersonFilter(PersonFilter):
    # The search never matches a field marked "never export" (access.people_search_q).
    export = True

    def __init__(self, data=None, queryset=None, *, request=None, **kwargs):
        super().__init__(data, queryset=queryset, request=request, viewer=access.viewer_for_request(request))


class PersonResource(ApiMixin):
    """The people resource: queryset, filters and ordering, shared by the viewset and the streamed export
    (`/api/v1/export/people.csv`, cases/api/export.py)."""

    serializer_class = PersonSerializer
    filterset_class = ApiPersonFilter
    ordering_fields = ["reference", "updated_at"]
    ordering = ["reference"]
    cursor_tiebreaker = "reference"
    lookup_field = "reference"

    def get_queryset(self) -> QuerySet:
        # Fields a curator marked "never export" are blank here for everyone (access.exported_people).
        return access.exported_people(self.viewer).prefetch_related(
            Prefetch("recommendations", queryset=Recommendation.objects.only("id", "code").order_by("code")),
            Prefetch(
                "statuses",
                queryset=PersonStatus.objects.published().order_by("-occurred_on", "-id"),
                to_attr="published_statuses",
            ),
        )

    def _actor(self):
        return self.request.auth if self.request.auth is not None else self.request.user


@extend_schema_view(
    list=extend_schema(summary=_("List people (redacted by consent and clearance)")),
    retrieve=extend_schema(summary=_("One person by reference")),
)
class PersonViewSet(PersonResource, viewsets.ReadOnlyModelViewSet):
    """People whose case you may know of; names only with consent."""

    def get_object(self):
        person = super().get_object()
        access.record_person_read(self.viewer, person, actor=self._actor())
        return person

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        results = response.data.get("results", []) if isinstance(response.data, dict) else []
        audit.record(
            "person.list",
            actor=self._actor(),
            organisation=self.viewer.organisation_id,
            count=len(results),
            identified=sum(1 for row in results if row.get("identified")),
        )
        return response
