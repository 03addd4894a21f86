"""Any CSV or XLSX with a column mapping (`--map FIELD=COLUMN`, one per field): only mapped columns are
read, so nothing is guessed."""

NAME = "csv"
COLUMNS: dict[str, list[str]] = {}
IGNORED: list[str] = []
SIGNATURE: list[str] = []
DEFAULTS: dict[str, str] = {}
