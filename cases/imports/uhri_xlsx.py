"""UHRI's spreadsheet export: 16 columns as UHRI writes them, misspellings included ("Reccomending"); the
correct spelling is accepted too. Multi-value cells hold one value per line, each prefixed "- "; dates may be
Excel serial numbers."""

NAME = "uhri-xlsx"
COLUMNS = {
    "text": ["Text"],
    "state_under_review": ["Countries Concerned"],
    "body": ["Reccomending Body", "Recommending Body"],
    "document": ["Document Symbol"],
    "themes": ["Themes"],
    "affected_persons": ["Affected Persons"],
    "document_date": ["Document Publication Date"],
    "recommending_states": ["UPR Reccomending States", "UPR Recommending States"],
    "response": ["UPR Position"],
    "external_id": ["OHCHR Annotation Id"],
    "session": ["UPR Session"],
}
# Read, kept out of the way: they name nothing we store.
IGNORED = ["Sdgs", "Type", "Regions Concerned", "Recommending Regions", "Date of publication on UHRI"]
# Recognised when the header has these (any spelling above).
SIGNATURE = ["text", "document", "external_id", "body"]
DEFAULTS: dict[str, str] = {}
