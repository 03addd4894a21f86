"""Per-language display formats (FORMAT_MODULE_PATH): ISO 8601 dates in every language."""
