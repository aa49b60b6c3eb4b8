"""zipline-reloaded algorithms, unmodified, running live through LiveDesk's broker path.

``loader`` (AST check and import), ``adapter`` (the live algorithm: it *is* the ``context``
and the object ``zipline.api`` dispatches to), ``data`` (``BarData``), ``portfolio``,
``scheduling`` (zipline's own ``EventRule`` objects on the XNYS calendar and the broker's
clock), ``state`` (``context`` attributes persisted in the journal), ``pipeline``,
``strategy`` (the :class:`~livedesk.backend.strategies.base.Strategy` that runs an
algorithm file), ``backtest`` (zipline ``run_algorithm`` on the same file) and ``parity``.
zipline is imported only when an algorithm runs.
"""
