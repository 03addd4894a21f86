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
