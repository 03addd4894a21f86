"""What a delivery says: the API's own representation of the object, read through the API's own querysets.

For each clearance a `viewer` is made as for a key of that clearance (access.viewer_for_clearance), and the
object is read through the export's resource classes (cases/api/views.py) and rendered by its serializers
(cases/api/serializers.py): published assessments only, with the evidence ids that clearance may see and
the rest counted as withheld; evidence only up to the clearance (internal never); recommendations as the
API shows them. An object the clearance may not see gives no payload, and so no delivery.

The body is an envelope: `{"id": <idempotency id>, "event": ..., "created_at": ..., "data": {...}}`. Links in
it are absolute, on SITE_URL (the worker has no request).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.renderers import JSONRenderer

from cases import access
from cases.api import views as api


class _SiteRequest:
    """Stands in for the request the serializers' links are built from: absolute URLs on SITE_URL."""

    def build_absolute_uri(self, location: str) -> str:
        return settings.SITE_URL.rstrip("/") + location


def _resource(cls: type, viewer: access.Viewer):
    resource = cls()
    resource.request = None
    resource.__dict__["viewer"] = viewer  # ApiMixin.viewer is a cached_property: set it as it would be
    return resource


def _plain(data: Any) -> Any:
    """Serializer output (Hyperlinks, ordered dicts) as plain JSON values, as the API renders them."""
    return json.loads(JSONRenderer().render(data))


def _render(resource, instance) -> dict:
    serializer = resource.serializer_class(instance, context={"request": _SiteRequest(), "format": None})
    return _plain(serializer.data)


def assessment(viewer: access.Viewer, assessment_id: int) -> dict | None:
    resource = _resource(api.AssessmentResource, viewer)
    found = resource.get_queryset().filter(pk=assessment_id).first()
    return None if found is None else {"assessment": _render(resource, found)}


def evidence_linked(viewer: access.Viewer, evidence_id: int, recommendation_code: str) -> dict | None:
    resource = _resource(api.EvidenceResource, viewer)
    found = resource.get_queryset().filter(pk=evidence_id).first()
    if found is None:
        return None
    return {"evidence": _render(resource, found), "recommendation": recommendation_code}


def recommendation(viewer: access.Viewer, recommendation_id: int, **extra: Any) -> dict | None:
    resource = _resource(api.RecommendationResource, viewer)
    found = resource.get_queryset().filter(pk=recommendation_id).first()
    return None if found is None else {"recommendation": _render(resource, found), **extra}


def still_visible(viewer: access.Viewer, event: str, subject: str) -> bool:
    """Asked before every attempt: may this clearance still see what the delivery is about? (Evidence made
    internal, or an assessment no longer published, after the event: the delivery is not sent.)"""
    kind, _sep, rest = subject.partition(":")
    if kind == "assessment":
        return _resource(api.AssessmentResource, viewer).get_queryset().filter(pk=int(rest)).exists()
    if kind == "evidence":
        evidence_id = int(rest.split(":", 1)[0])
        return _resource(api.EvidenceResource, viewer).get_queryset().filter(pk=evidence_id).exists()
    return True  # recommendations are not confidential
