# Dates everywhere, the admin and Django's own pages included, as on our pages: ISO 8601, unambiguous in
# every language (issue 16: "Sept. 1, 2022" read as US-style). Only the display formats are ours; the rest,
# input formats included, are Django's for the language.
DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
YEAR_MONTH_FORMAT = "Y-m"
