"""The import page's forms: the upload (file and options, as the command's), and the mapping of values the
preview lists as unknown (each to one of ours, or dropped)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from cases.collation import ByLanguage
from cases.models import IssuingBody, StateResponse, Theme

from .normalise import FIELDS
from .reader import FORMATS

# What the "map" choice stores for "drop it": an empty target (the command's `--value theme:NAME=`).
DROP = "__drop__"
# Unknown values offered for mapping, per kind (the most frequent first); the rest stay listed as unknown.
MAPPABLE_PER_KIND = 100
FORMAT_LABELS = {
    "auto": _("Recognise it (UHRI XLSX or JSON, UPR table, our CSV export)"),
    "uhri-xlsx": _("UHRI spreadsheet export (XLSX)"),
    "uhri-json": _("UHRI JSON export"),
    "upr": _("UPR recommendations table (CSV or XLSX)"),
    "tracker-csv": _("Our own CSV export"),
    "csv": _("Another table, with a column mapping"),
}
KIND_LABELS = {"theme": _("Theme"), "response": _("State response"), "body": _("Issuing body")}


def max_upload_bytes() -> int:
    return settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024


def parse_column_mapping(text: str, fields) -> dict[str, str]:
    """A column mapping typed on the web, one FIELD=COLUMN per line (the command's --map), checked against
    `fields` (the recommendations' or the people's)."""
    mapping = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, column = line.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ValidationError(
                _("Line %(n)s: write it as FIELD=COLUMN."), params={"n": number}, code="syntax"
            )
        if name not in fields:
            raise ValidationError(
                _("Line %(n)s: “%(f)s” is not a field; the fields are: %(all)s."),
                params={"n": number, "f": name, "all": ", ".join(fields)},
                code="field",
            )
        mapping[name] = column
    return mapping


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV, XLSX or JSON."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx,.json"}),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[(name, FORMAT_LABELS.get(name, name)) for name in ("auto", *FORMATS)],
        initial="auto",
    )
    encoding = forms.CharField(
        label=_("Encoding"),
        required=False,
        max_length=40,
        help_text=_(
            "Leave empty to detect it (the preview says what was found), or give e.g. cp1252, mac_roman, utf-16."
        ),
    )
    document = forms.CharField(
        label=_("Document symbol, for rows that have none"),
        required=False,
        max_length=100,
        help_text=_("A UPR table rarely names its report: e.g. A/HRC/40/6."),
    )
    document_date = forms.DateField(
        label=_("Document date, for rows that have none"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Needed when the document is new to the tracker."),
    )
    response_document = forms.CharField(
        label=_("Symbol of the document that records the State's responses"),
        required=False,
        max_length=100,
        help_text=_("e.g. A/HRC/40/6/Add.1; by default the document itself."),
    )
    state_under_review = forms.CharField(
        label=_("Only rows about this State"),
        required=False,
        max_length=100,
        help_text=_("e.g. China: other States' rows are left out."),
    )
    columns = forms.CharField(
        label=_("Column mapping"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr"}),
        # Lazy as a whole: `lazy string % values` would translate once, at import, in whatever language was active.
        help_text=lazy(
            lambda: (
                _("One FIELD=COLUMN per line, for columns the importer does not recognise: %(fields)s.")
                % {"fields": ", ".join(FIELDS)}
            ),
            str,
        )(),
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > max_upload_bytes():
            raise ValidationError(
                _("The file is %(size)s; the largest accepted is %(max)s."),
                params={"size": filesizeformat(f.size), "max": filesizeformat(max_upload_bytes())},
                code="too_large",
            )
        if f.size == 0:
            raise ValidationError(_("The file is empty."), code="empty")
        return f

    def clean_encoding(self):
        import codecs

        name = self.cleaned_data["encoding"].strip()
        if name:
            try:
                codecs.lookup(name)
            except LookupError:
                raise ValidationError(_("Unknown encoding “%(e)s”."), params={"e": name}) from None
        return name

    def clean_columns(self):
        return parse_column_mapping(self.cleaned_data["columns"], FIELDS)

    def options(self) -> dict:
        """The options as `Upload` stores them (and `Options` reads them)."""
        d = self.cleaned_data
        fixed = {
            name: str(d[name])
            for name in ("document", "document_date", "response_document")
            if d.get(name) not in (None, "")
        }
        filters = {"state_under_review": d["state_under_review"]} if d["state_under_review"] else {}
        return {
            "format": d["format"],
            "encoding": d["encoding"],
            "map": d["columns"],
            "set": fixed,
            "filter": filters,
            "values": [],
        }


def _choices(kind: str) -> list[tuple[str, str]]:
    undecided = [("", _("— leave it unknown —")), (DROP, _("Drop it"))]
    if kind == "theme":
        return undecided + list(Theme.objects.order_by(ByLanguage("name"), "pk").values_list("slug", "name"))
    if kind == "response":
        return undecided + [(c.value, c.label) for c in StateResponse if c != StateResponse.NO_RESPONSE]
    return undecided + [(c.value, c.label) for c in IssuingBody]


class ValueMapForm(forms.Form):
    """One choice per unknown value of the preview: one of our values, "drop it", or left undecided (it
    stays unknown: nothing is created for it). Chosen theme mappings are kept for later imports."""

    def __init__(self, *args, unknown: dict[str, dict[str, int]], current: list, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = {(k, s): (t or DROP) for k, s, t in current}
        self.values: list[tuple[str, str, int, str]] = []  # (kind, value, rows, field name)
        for kind in ("theme", "response", "body"):
            items = sorted(unknown.get(kind, {}).items(), key=lambda kv: (-kv[1], kv[0]))
            choices = _choices(kind)
            for value, count in items[:MAPPABLE_PER_KIND]:
                name = f"v{len(self.values)}"
                self.values.append((kind, value, count, name))
                self.fields[name] = forms.ChoiceField(
                    label=value, choices=choices, required=False, initial=chosen.get((kind, value), "")
                )
        # Values mapped earlier (the preview no longer lists them as unknown) stay mapped.
        self.kept = [[k, s, t] for k, s, t in current if (k, s) not in {(v[0], v[1]) for v in self.values}]

    def rows(self):
        """(kind label, value, rows, bound field) for the template, grouped by kind."""
        return [(KIND_LABELS[kind], value, count, self[name]) for kind, value, count, name in self.values]

    def value_map(self) -> list[list[str]]:
        out = list(self.kept)
        for kind, value, _count, name in self.values:
            target = self.cleaned_data.get(name) or ""
            if target:
                out.append([kind, value, "" if target == DROP else target])
        return out
