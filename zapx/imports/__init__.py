"""Contact import from CSV and XLSX files: streamed, in bulk, resumable, every rejected row kept.

``readers`` (formats, encodings, zip-bomb guards) -> ``headers`` (column aliases) -> ``rows``
(normalisation, validation, merging) -> ``load`` (COPY + upsert per chunk with a checkpoint) ->
``service`` (the import record, running, reporting). See ``docs/IMPORT.md``.
"""

from zapx.imports.service import (
    CHUNK_ROWS,
    create_import,
    get_import,
    import_dict,
    imports_page,
    rejected_csv,
    run_import,
    runs_inline,
    save_upload,
)

__all__ = [
    "CHUNK_ROWS",
    "create_import",
    "get_import",
    "import_dict",
    "imports_page",
    "rejected_csv",
    "run_import",
    "runs_inline",
    "save_upload",
]
