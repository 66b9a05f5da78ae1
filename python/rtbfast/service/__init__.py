"""``rtbfast serve``: the public API over HTTP (FastAPI + uvicorn).

One concern per module:

- :mod:`.config`: what the server is told (catalogs, volumes, tokens, limits);
- :mod:`.auth`: bearer tokens stored hashed, roles ``reader``, ``operator``, ``metrics``;
- :mod:`.metrics`: the Prometheus metrics (names fixed with ``deploy/``);
- :mod:`.jobs`: the SQLite job store and the bounded runners of long work;
- :mod:`.work`: what a job of each kind does, with the same functions the CLI calls;
- :mod:`.volumes`: paths confined to the data volume, uploads streamed to disk;
- :mod:`.tables`: a table answered as JSON, Arrow IPC or Parquet, as the client asks;
- :mod:`.limits`: request ids, JSON logs, body-size and time limits, request metrics;
- :mod:`.app`: the routes.

Nothing here checks, expands, plans or audits by itself: the routes call
:func:`rtbfast.templates.check.check_templates`, :func:`rtbfast.templates.expand.expand`,
:func:`rtbfast.enm.planning.plan_folder`, :func:`rtbfast.audit.audit` and
:func:`rtbfast.enm.journal.journal_report`, with the catalogs loaded once at start as
:class:`rtbfast.catalog_view.CatalogView`.
"""
