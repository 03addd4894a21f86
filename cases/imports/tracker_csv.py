"""Our own CSV export (`/api/v1/export/recommendations.csv`). Exporting and importing again changes
nothing: rows are matched by `code`, documents by slug. Only what a curator edits is compared (text,
paragraph, addressee, themes by slug); the status columns are derived from published assessments and are
never imported (a status changes through the review workflow, not a spreadsheet)."""

NAME = "tracker-csv"
COLUMNS = {
    "code": ["code"],
    "document": ["document"],
    "paragraph": ["paragraph"],
    "text": ["text"],
    "addressee": ["addressee"],
    "themes": ["themes"],
}
IGNORED = ["implementation_status", "state_response", "state_claim", "status_updated_at", "updated_at", "url"]
SIGNATURE = ["code", "document", "paragraph", "text", "addressee"]
DEFAULTS: dict[str, str] = {}
