"""`{% people_counts recommendation as counts %}`: the people linked to a recommendation whom the viewer
may know of, by current status (cases.people.views.recommendation_people_counts; one query)."""

from django import template

from cases import access

register = template.Library()


@register.simple_tag(takes_context=True)
def people_counts(context, recommendation):
    from cases.people.views import recommendation_people_counts

    request = context.get("request")
    viewer = access.viewer_for_user(getattr(request, "user", None))
    return recommendation_people_counts(viewer, recommendation)


@register.filter
def match_reason(key: str) -> str:
    """A likely-duplicate reason ("name", "birth_year", an external reference's field) in the reader's
    language: the person field's own label, or "name" for the similarity of names."""
    from django.core.exceptions import FieldDoesNotExist
    from django.utils.translation import gettext

    from cases.people.models import Person

    if key == "name":
        return gettext("name")
    try:
        return str(Person._meta.get_field(key).verbose_name)
    except FieldDoesNotExist:
        return key
