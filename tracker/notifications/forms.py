from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Kind, Preferences

CHANNELS = (("app", _("In the app")), ("email", _("By e-mail")))


class PreferencesForm(forms.ModelForm):
    """Which kinds the user receives, in the app and by e-mail: a pair of boxes per kind. The review
    queue's digest is offered to curators only (nobody else receives it)."""

    class Meta:
        model = Preferences
        fields = [f"{kind}_{channel}" for kind in Kind.values for channel, _label in CHANNELS]

    def __init__(self, *args, curator: bool = False, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for kind in Kind:
            for channel, label in CHANNELS:
                name = f"{kind}_{channel}"
                if kind == Kind.QUEUE_WAITING and not curator:
                    del self.fields[name]
                else:
                    self.fields[name].label = label

    def groups(self) -> list[dict]:
        """One fieldset per kind: its label, and its boxes."""
        return [
            {"kind": kind, "label": kind.label, "fields": [self[f"{kind}_{c}"] for c, _label in CHANNELS]}
            for kind in Kind
            if f"{kind}_app" in self.fields
        ]
