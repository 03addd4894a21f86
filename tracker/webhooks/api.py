"""/api/v1/webhooks/: a partner organisation's key lists, registers and deletes its endpoints, and reads each
endpoint's delivery log. Keys only (`Authorization: Bearer <key>`): a session is no organisation key.

Which endpoints a key manages is cases/access.py's to say (`key_webhook_endpoints`: its organisation's); any
other organisation's endpoint is a 404, as if it did not exist. A key registers endpoints of its own
clearance or below (`webhook_clearance_allowed`); the secret is in the answer to the POST and never again.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cases import access
from cases.api.authentication import ApiKeyAuthentication
from cases.api.errors import JSONErrorsMixin
from cases.api.pagination import StableCursorPagination
from cases.api.schema import ApiAutoSchema
from cases.api.throttling import KeyRateThrottle
from cases.models import ApiKey, KeyClearance

from . import net, services
from .models import Delivery, Endpoint, Event


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices),
        allow_empty=False,
        max_length=len(Event.values),
        help_text=_("The events to receive."),
    )
    clearance = serializers.ChoiceField(
        choices=KeyClearance.choices,
        required=False,
        help_text=_("What the payloads show, as for a key of this clearance; at most your key's (default)."),
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "clearance",
            "active",
            "consecutive_failures",
            "paused_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "active", "consecutive_failures", "paused_at", "created_at", "updated_at"]
        extra_kwargs = {
            "id": {"help_text": _("Stable id.")},
            "created_at": {"help_text": _("When it was registered (UTC).")},
            "updated_at": {"help_text": _("Last change (UTC).")},
            "url": {"help_text": _("Where deliveries are POSTed: http or https, a public address.")},
            "description": {"help_text": _("A note for yourselves; may be empty.")},
            "active": {"help_text": _("False when paused after repeated failures.")},
            "consecutive_failures": {"help_text": _("Failed attempts in a row.")},
            "paused_at": {"help_text": _("When it was paused; null if active.")},
        }

    def validate_url(self, value: str) -> str:
        try:
            net.check_destination(value)
        except net.Refused as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs):
        key: ApiKey = self.context["request"].auth
        attrs.setdefault("clearance", key.clearance)
        if not access.webhook_clearance_allowed(key, attrs["clearance"]):
            raise serializers.ValidationError(
                {"clearance": [_("An endpoint's clearance cannot be above your key's.")]}
            )
        return attrs


class CreatedEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text=_("Signs every delivery (Tracker-Signature). Shown now, never again.")
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    # A plain string here: the endpoint's `events` already describes the codes (one enum in the schema).
    event = serializers.CharField(read_only=True, help_text=_("The event's code, e.g. assessment.published."))

    class Meta:
        model = Delivery
        fields = [
            "idempotency_id",
            "event",
            "status",
            "attempts",
            "response_code",
            "response_excerpt",
            "last_error",
            "first_attempt_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "payload",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "idempotency_id": {
                "help_text": _("Sent as Tracker-Delivery and the body's `id`; same on retries.")
            },
            "status": {"help_text": _("pending, succeeded, failed (will be tried again) or gave_up.")},
            "attempts": {"help_text": _("Attempts made so far.")},
            "last_error": {"help_text": _("Why the last attempt failed; empty if it did not.")},
            "first_attempt_at": {"help_text": _("When it was first tried (UTC); null if not yet.")},
            "last_attempt_at": {"help_text": _("When it was last tried (UTC); null if not yet.")},
            "delivered_at": {"help_text": _("When the endpoint accepted it (UTC); null if not yet.")},
            "created_at": {"help_text": _("When the event happened (UTC).")},
            "payload": {"help_text": _("The JSON body sent (the same on every attempt).")},
            "response_code": {"help_text": _("HTTP status of the last attempt; null if none answered.")},
            "response_excerpt": {"help_text": _("The start of the last response body.")},
            "next_attempt_at": {"help_text": _("When it is tried again; null if not.")},
        }


class IsOrganisationKey(BasePermission):
    """An organisation key, nothing else (no credentials: 401 from the authentication's header)."""

    message = _("Use an organisation key.")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class WebhookApiMixin(JSONErrorsMixin):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsOrganisationKey]
    throttle_classes = [KeyRateThrottle]
    renderer_classes = [JSONRenderer]
    pagination_class = StableCursorPagination
    filter_backends: list = []
    ordering = ["-created_at", "-id"]
    schema = ApiAutoSchema()

    def endpoints(self) -> QuerySet:
        return access.key_webhook_endpoints(self.request.auth, Endpoint.objects.all())

    def get_object(self):
        try:
            return self.endpoints().get(pk=int(self.kwargs["pk"]))
        except (Endpoint.DoesNotExist, ValueError, OverflowError):
            raise exceptions.NotFound() from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


_PK = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("Endpoint id."))


@extend_schema_view(
    get=extend_schema(summary=_("List your organisation's webhook endpoints")),
    post=extend_schema(
        summary=_("Register a webhook endpoint"),
        request=EndpointSerializer,
        responses={201: CreatedEndpointSerializer},
    ),
)
class EndpointList(WebhookApiMixin, generics.ListCreateAPIView):
    serializer_class = EndpointSerializer

    def get_queryset(self) -> QuerySet:
        return self.endpoints()

    def perform_create(self, serializer) -> None:
        key: ApiKey = self.request.auth
        data = serializer.validated_data
        try:
            endpoint, secret = services.create_endpoint(
                key.organisation_id,
                url=data["url"],
                events=data["events"],
                clearance=data["clearance"],
                description=data.get("description", ""),
                key=key,
            )
        except net.Refused as exc:  # the name resolved differently a moment later
            raise exceptions.ValidationError({"url": exc.messages}) from None
        endpoint.secret_shown = secret
        serializer.instance = endpoint

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        endpoint = serializer.instance
        data = CreatedEndpointSerializer(endpoint, context=self.get_serializer_context()).data
        data["secret"] = endpoint.secret_shown
        # No Location header: DRF would take it from the `url` field, which is the receiver's address.
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary=_("One webhook endpoint"), parameters=[_PK]),
    delete=extend_schema(summary=_("Delete a webhook endpoint and its delivery log"), parameters=[_PK]),
)
class EndpointDetail(WebhookApiMixin, generics.RetrieveDestroyAPIView):
    serializer_class = EndpointSerializer

    def perform_destroy(self, instance: Endpoint) -> None:
        services.delete_endpoint(instance, by=self.request.auth)


@extend_schema_view(
    get=extend_schema(summary=_("An endpoint's delivery log, newest first"), parameters=[_PK])
)
class DeliveryList(WebhookApiMixin, generics.ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self) -> QuerySet:
        return Delivery.objects.filter(endpoint=self.get_object())
