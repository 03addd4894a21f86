"""Importing recommendations and State responses: UHRI's exports, UPR tables, our own CSV, any mapped table.

The pipeline, usable by the command, a web page and a background task alike:
    options = Options(format="auto", mapping={...}, fixed={...}, filters={...}, encoding=None)
    preview = prepare(path, options, progress=...)   # reads the file and the database, writes nothing
    preview.as_dict()                                # counts, rejected rows, unknown values, a sample
    run = apply(preview, user=curator, path=path)    # batches, each one transaction; an ImportRun report

Modules: encoding (what the file is, how it is encoded), tables (CSV/XLSX rows), one module per format
(uhri_xlsx, uhri_json, upr, tracker_csv, mapped), reader (columns, --set, --filter), normalise (values,
keys, codes), preview (fold and match), apply (write), report (the preview as text).
"""

from .apply import ImportFailed, apply
from .encoding import BadFile
from .preview import Preview, prepare
from .reader import FORMATS, Options

__all__ = ["FORMATS", "BadFile", "ImportFailed", "Options", "Preview", "apply", "prepare"]
