"""Integrity guards the ORM cannot express as constraints (no workflow logic lives here)."""

from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from .models import Assessment, PublishedAssessmentImmutable, ReviewState


@receiver(m2m_changed, sender=Assessment.evidence.through)
def _published_evidence_is_frozen(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """The evidence a published assessment rests on is part of the public record."""
    if action not in {"pre_add", "pre_remove", "pre_clear"}:
        return
    if not reverse:
        published = instance.pk and Assessment.objects.filter(
            pk=instance.pk, review_state=ReviewState.PUBLISHED
        )
    elif action == "pre_clear":
        published = instance.assessments.filter(review_state=ReviewState.PUBLISHED)
    else:
        published = Assessment.objects.filter(pk__in=pk_set or [], review_state=ReviewState.PUBLISHED)
    if published and published.exists():
        raise PublishedAssessmentImmutable("The evidence of a published assessment cannot change.")
