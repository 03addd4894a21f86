"""UPR recommendation tables as NGOs and researchers keep them, recognised by header synonyms (case- and
space-insensitive). Often long format: one row per recommendation, recommending State and theme, folded into
one recommendation by the preview. Theme cells sometimes carry "Affected persons:" glued on; it is split
off. Real headers mislead (a `position` column holding the response, `code` the paragraph, `country` the
recommending State): synonyms take what they can, `--map FIELD=COLUMN` the rest."""

NAME = "upr"
COLUMNS = {
    "text": ["Recommendation", "Recommendations", "Text", "Recommendation text"],
    "recommending_states": ["Recommending State", "Recommending States", "From"],
    "state_under_review": ["State under Review", "SuR", "To"],
    "response": ["Response", "Position", "UPR Position"],
    "themes": ["Issue", "Issues", "Themes", "Theme"],
    "session": ["Session"],
    "cycle": ["Cycle"],
    "paragraph": ["Paragraph", "Recommendation number", "Recommendation no", "Paragraph number"],
    "document": ["Document", "Document Symbol", "Symbol"],
    "affected_persons": ["Affected Persons"],
}
IGNORED: list[str] = []
SIGNATURE = ["text"]
# Every document a UPR table speaks of is a Working Group report.
DEFAULTS = {"body": "upr"}
