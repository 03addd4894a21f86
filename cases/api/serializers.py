"""The export's representations. Field names are a public contract (DESIGN.md "REST export"): add fields,
never rename or remove them. Every field is explicit; choices are their machine codes; timestamps are UTC
ISO 8601 with a `Z`.

Who wrote or reviewed an assessment is not exported: authors face a state adversary, so an assessment
names the organisation that made it, never a person.
"""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse as django_reverse
from django.utils import timezone
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases import access
from cases.models import Assessment, Document, Evidence, Recommendation, Theme
from cases.translations.models import ContentLanguage, translation_attr

API_NS = "api"


# Stands in for the lookup value while a link template is built; no code, slug or id contains it.
SLOT = "__lookup__"


class ApiLink(serializers.HyperlinkedIdentityField):
    """An absolute link to an object in the API. Unlike DRF's default it does not carry the request's
    `?format=` along, so a link is the same string in JSON, in a CSV page and in the streamed export.

    The URL is reversed once per request into a template and filled per row: the full export writes one
    link per row, and reversing each would be a sizeable share of its time."""

    def __init__(self, view_name: str, **kwargs):
        super().__init__(view_name=f"{API_NS}:{view_name}", **kwargs)

    def get_url(self, obj, view_name, request, format):
        value = getattr(obj, self.lookup_field)
        if value in (None, ""):
            return None
        templates = request.__dict__.setdefault("_api_link_templates", {}) if request is not None else {}
        template = templates.get(view_name)
        if template is None:
            template = templates[view_name] = link_template(request, view_name, self.lookup_url_kwarg)
        # Quoted as reverse() quotes a path argument.
        return template.replace(SLOT, quote(str(value), safe=RFC3986_SUBDELIMS + "/~:@"))


def link_template(request, view_name: str, lookup_url_kwarg: str) -> str:
    """The absolute URL of `view_name` with SLOT where the lookup value goes: reversed once, filled per row
    (ApiLink, and the export's rows in csv_rows.py)."""
    url = django_reverse(view_name, kwargs={lookup_url_kwarg: SLOT})
    return request.build_absolute_uri(url) if request is not None else url


class TranslationsSerializer(serializers.Serializer):
    """Translations by language code (`zh-hans`, `ug`): every key present, null where there is none yet."""

    # One key per content language (cases.translations.ContentLanguage). Nested, so CSV spells its columns
    # `translations.zh-hans`, `translations.ug`. Read from the `translation_<language>` annotations the
    # resource's queryset made (translations.with_all_translations): no query per row.

    # The help text of each language's key (lazy, so the schema is read in the request's language).
    key_help = ""

    def __init__(self, **kwargs):
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def get_fields(self):
        return {
            language: serializers.CharField(
                source=translation_attr(language),
                read_only=True,
                allow_null=True,
                help_text=self.key_help,
            )
            for language in ContentLanguage.values
        }


class TextTranslationsSerializer(TranslationsSerializer):
    key_help = _("The text in this language; null if there is no translation yet.")


class NameTranslationsSerializer(TranslationsSerializer):
    key_help = _("The name in this language; null if there is no translation yet.")


class ThemeSerializer(serializers.ModelSerializer):
    url = ApiLink("theme-detail", lookup_field="slug", help_text=_("This theme in the API."))
    translations = NameTranslationsSerializer(
        help_text=_("Translations of the name by language code (`zh-hans`, `ug`); `name` is the original.")
    )

    class Meta:
        model = Theme
        fields = ["slug", "name", "description", "updated_at", "url", "translations"]
        extra_kwargs = {
            "slug": {"help_text": _("Stable identifier, used by the `theme` filter of recommendations.")},
            "name": {"help_text": _("Display name.")},
            "description": {"help_text": _("What the theme covers; may be empty.")},
            "updated_at": {"help_text": _("Last change (UTC).")},
        }


class DocumentSerializer(serializers.ModelSerializer):
    link = ApiLink("document-detail", lookup_field="slug", help_text=_("This document in the API."))

    class Meta:
        model = Document
        fields = [
            "slug",
            "title",
            "short_name",
            "symbol",
            "issuing_body",
            "published_on",
            "url",
            "updated_at",
            "link",
        ]
        extra_kwargs = {
            "slug": {"help_text": _("Stable identifier, used by the `document` filters.")},
            "title": {"help_text": _("Full title.")},
            "short_name": {"help_text": _("Short name for lists.")},
            "symbol": {"help_text": _("UN document symbol, e.g. A/HRC/51/…; may be empty.")},
            "issuing_body": {"help_text": _("Who issued it (machine code).")},
            "published_on": {"help_text": _("Publication date.")},
            "url": {"help_text": _("Where the document is published; may be empty.")},
            "updated_at": {"help_text": _("Last change (UTC).")},
        }


class StateClaimSerializer(serializers.ModelSerializer):
    """The State's latest published claim about a recommendation, in brief."""

    url = ApiLink("assessment-detail", help_text=_("The full assessment in the API."))

    class Meta:
        model = Assessment
        fields = ["id", "implementation_status", "state_response", "assessed_on", "url"]
        extra_kwargs = {
            "id": {"help_text": _("Assessment id.")},
            "implementation_status": {"help_text": _("What the State claims about implementation.")},
            "state_response": {"help_text": _("The State's response in that claim.")},
            "assessed_on": {"help_text": _("The date the claim speaks for.")},
        }


class PublishedClaimField(StateClaimSerializer):
    """Nested (so CSV spells its columns `state_claim.id`, …) and null unless the claim is published: services
    only ever point at a published claim, checked again here because this leaves the organisation."""

    def get_attribute(self, instance):
        claim = super().get_attribute(instance)
        return claim if claim is not None and access.exports_state_claim(claim.review_state) else None


def iso_datetime(value, zone) -> str | None:
    """DRF's ISO 8601 DateTimeField: the instant in the current time zone, `Z` for UTC; None stays None."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# The fields RecommendationSerializer.to_representation writes directly, in this order.
FAST_RECOMMENDATION_FIELDS = [
    "code",
    "document",
    "paragraph",
    "text",
    "addressee",
    "themes",
    "implementation_status",
    "state_response",
    "state_claim",
    "status_updated_at",
    "updated_at",
    "url",
    "translations",
]


class RecommendationSerializer(serializers.ModelSerializer):
    document = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text=_("Slug of the document that contains it.")
    )
    themes = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True, help_text=_("Slugs of its themes.")
    )
    state_claim = PublishedClaimField(
        read_only=True,
        allow_null=True,
        help_text=_("The State's latest published claim, beside the independent status; null if none."),
    )
    url = ApiLink(
        "recommendation-detail", lookup_field="code", help_text=_("This recommendation in the API.")
    )
    translations = TextTranslationsSerializer(
        help_text=_(
            "Translations of the text by language code (`zh-hans`, `ug`); `text` is the original (English)."
        )
    )

    class Meta:
        model = Recommendation
        fields = [
            "code",
            "document",
            "paragraph",
            "text",
            "addressee",
            "themes",
            "implementation_status",
            "state_response",
            "state_claim",
            "status_updated_at",
            "updated_at",
            "url",
            "translations",
        ]
        extra_kwargs = {
            "code": {"help_text": _("Stable public code, e.g. XJ22-151-i; the lookup key.")},
            "paragraph": {"help_text": _("Paragraph reference in the document, e.g. 151(i).")},
            "text": {"help_text": _("Full text of the recommendation.")},
            "addressee": {"help_text": _("To whom it is addressed (machine code).")},
            "implementation_status": {
                "help_text": _("Current status: the latest published independent or UN assessment.")
            },
            "state_response": {
                "help_text": _("The State's latest published response other than no_response.")
            },
            "status_updated_at": {
                "help_text": _("When the current status was last recomputed (UTC); null if never.")
            },
            "updated_at": {
                "help_text": _(
                    "Last change (UTC), including a newly published assessment or linked evidence."
                )
            },
        }

    def to_representation(self, instance):
        """The fields above, written directly rather than field by field: a page is 50 of these, the generic
        path (a related manager and queryset per row for the themes, a nested serializer per claim and per
        translations object) was most of the page's time. The same values as `super().to_representation`,
        which tests/test_api_fast_rows.py compares with it; any change to `fields` falls back to it."""
        if list(self.fields) != FAST_RECOMMENDATION_FIELDS:
            return super().to_representation(instance)
        request = self.context.get("request")
        zone = timezone.get_current_timezone()
        fields = self.fields
        # The prefetched themes (the resources prefetch them), without a related manager per row.
        themes = getattr(instance, "_prefetched_objects_cache", {}).get("themes")
        if themes is None:
            themes = instance.themes.all() if instance.pk is not None else []
        claim = instance.state_claim
        if claim is not None and access.exports_state_claim(claim.review_state):
            claim_link = fields["state_claim"].fields["url"]
            claim = {
                "id": claim.id,
                "implementation_status": claim.implementation_status,
                "state_response": claim.state_response,
                "assessed_on": claim.assessed_on.isoformat() if claim.assessed_on else None,
                "url": claim_link.get_url(claim, claim_link.view_name, request, None),
            }
        else:
            claim = None
        document = instance.document
        url = fields["url"]
        return {
            "code": instance.code,
            "document": None if document is None else document.slug,
            "paragraph": instance.paragraph,
            "text": instance.text,
            "addressee": instance.addressee,
            "themes": [theme.slug for theme in themes],
            "implementation_status": instance.implementation_status,
            "state_response": instance.state_response,
            "state_claim": claim,
            "status_updated_at": iso_datetime(instance.status_updated_at, zone),
            "updated_at": iso_datetime(instance.updated_at, zone),
            "url": url.get_url(instance, url.view_name, request, None),
            # None where the queryset has no translations (DRF's allow_null field does the same).
            "translations": {
                language: getattr(instance, translation_attr(language), None)
                for language in ContentLanguage.values
            },
        }


@extend_schema_field({"type": "array", "items": {"type": "integer"}})
class VisibleEvidenceField(serializers.Field):
    """Ids of the cited evidence the requester may see. Reads the `visible_evidence` list the view
    prefetched through access.visible_evidence; never `assessment.evidence.all()`, which would include
    withheld sources."""

    def __init__(self, **kwargs):
        kwargs.update(read_only=True, source="visible_evidence")
        super().__init__(**kwargs)

    def to_representation(self, value):
        return sorted(evidence.pk for evidence in value)


class AssessmentSerializer(serializers.ModelSerializer):
    recommendation = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the assessed recommendation.")
    )
    organisation = serializers.CharField(
        source="organisation.name", read_only=True, help_text=_("The organisation that made the assessment.")
    )
    evidence = VisibleEvidenceField(
        help_text=_("Ids of the evidence it rests on that you may see (see /api/v1/evidence/{id}/).")
    )
    withheld_evidence = serializers.IntegerField(
        source="withheld_count",
        read_only=True,
        help_text=_("How many further sources it rests on that your clearance does not show."),
    )
    corrects = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text=_("Id of the earlier published assessment this one corrects; null if none."),
    )
    url = ApiLink("assessment-detail", help_text=_("This assessment in the API."))

    class Meta:
        model = Assessment
        fields = [
            "id",
            "recommendation",
            "implementation_status",
            "state_response",
            "basis",
            "assessed_on",
            "rationale",
            "organisation",
            "evidence",
            "withheld_evidence",
            "corrects",
            "published_at",
            "updated_at",
            "url",
        ]
        extra_kwargs = {
            "id": {"help_text": _("Stable id.")},
            "implementation_status": {"help_text": _("Implementation status this assessment found.")},
            "state_response": {"help_text": _("The State's response this assessment records.")},
            "basis": {
                "help_text": _(
                    "independent (by monitors), un_finding (a UN body) or state_claim (the State's claim)."
                )
            },
            "assessed_on": {"help_text": _("The date the assessment speaks for.")},
            "rationale": {"help_text": _("Why: the reasoning, citing the evidence.")},
            "published_at": {"help_text": _("When it was published after review (UTC).")},
            "updated_at": {"help_text": _("Last change (UTC).")},
        }


class EvidenceSerializer(serializers.ModelSerializer):
    recommendations = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True, help_text=_("Codes of the recommendations it supports.")
    )
    link = ApiLink("evidence-detail", help_text=_("This evidence in the API."))

    class Meta:
        model = Evidence
        fields = [
            "id",
            "url",
            "title",
            "publisher",
            "published_on",
            "kind",
            "excerpt",
            "language",
            "archive_url",
            "confidentiality",
            "recommendations",
            "updated_at",
            "link",
        ]
        extra_kwargs = {
            "id": {"help_text": _("Stable id.")},
            "url": {"help_text": _("The source (http or https).")},
            "title": {"help_text": _("Title of the source.")},
            "publisher": {"help_text": _("Who published it; may be empty.")},
            "published_on": {"help_text": _("Publication date; null if unknown.")},
            "kind": {"help_text": _("Kind of source (machine code).")},
            "excerpt": {"help_text": _("A short quotation; may be empty.")},
            "language": {"help_text": _("BCP 47 language tag, e.g. en, zh, ug.")},
            "archive_url": {"help_text": _("An archived copy; may be empty.")},
            "confidentiality": {
                "help_text": _("public or partners (internal evidence never leaves through a key).")
            },
            "updated_at": {"help_text": _("Last change (UTC).")},
        }
