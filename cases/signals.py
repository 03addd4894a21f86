"""Integrity guards the ORM cannot express as constraints (no workflow logic lives here)."""

from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from .models import Assessment, CitedEvidenceImmutable, Evidence, PublishedAssessmentImmutable


@receiver(m2m_changed, sender=Assessment.evidence.through)
def _published_evidence_is_frozen(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """The evidence a published assessment rests on is part of the public record."""
    if action not in {"pre_add", "pre_remove", "pre_clear"}:
        return
    if not reverse:
        published = instance.pk and Assessment.objects.published().filter(pk=instance.pk)
    elif action == "pre_clear":
        published = instance.assessments.published()
    else:
        published = Assessment.objects.published().filter(pk__in=pk_set or [])
    if published and published.exists():
        raise PublishedAssessmentImmutable("The evidence of a published assessment cannot change.")


def _cited_links(evidence_ids, recommendation_ids):
    """(evidence, recommendation) links a published assessment of that recommendation rests on."""
    return Assessment.evidence.through.objects.filter(
        assessment__in=Assessment.objects.published(),
        evidence_id__in=evidence_ids,
        assessment__recommendation_id__in=recommendation_ids,
    )


@receiver(m2m_changed, sender=Evidence.recommendations.through)
def _cited_links_stay(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A source stays on the page of a recommendation whose published assessment cites it (services.
    unlink_evidence says so with a form error; this backs it for other writers through the m2m managers).
    A link row deleted on its own (an admin inline of the through model) sends no signal: Django sends none
    for auto-created through models, so such a writer must call services.unlink_evidence."""
    if action not in {"pre_remove", "pre_clear"}:
        return
    if action == "pre_clear":
        pk_set = set(
            instance.evidence.values_list("pk", flat=True)
            if reverse
            else instance.recommendations.values_list("pk", flat=True)
        )
    evidence_ids, recommendation_ids = ([*pk_set], [instance.pk]) if reverse else ([instance.pk], [*pk_set])
    if pk_set and _cited_links(evidence_ids, recommendation_ids).exists():
        raise CitedEvidenceImmutable("A published assessment of this recommendation cites this source.")
