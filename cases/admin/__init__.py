"""The curators' admin panel: every model, with search, filters, inlines and edit history.

The admin follows the same rules as the web app. Writes that touch more than one row go through
`services` (publish, return, API keys), visibility comes from `access` (a curator never sees another
organisation's internal evidence or unpublished assessments here either), and the workflow's derived data
(a recommendation's current status, an assessment's review state) is never editable by hand.
"""

from cases.people import admin as people_admin  # noqa: F401  (registers PersonAdmin)

from . import apikeys, assessments, base, evidence, libraries, reference  # noqa: F401  (registers the ModelAdmins)
