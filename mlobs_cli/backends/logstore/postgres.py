"""Prediction logs in PostgreSQL: the seed's `prediction_logs` table (`feature_values` jsonb), through psycopg.

Every aggregation runs in the database; the session is read-only (`default_transaction_read_only`), so even a
statement that went wrong could not change the logs. The table is `prediction_logs` unless the URL names
another: `postgresql://mlobs@db/serving?table=ml.prediction_logs`. The password comes from the URL, the
`log.password` key (MLOBS_LOG_PASSWORD) or libpq's own PGPASSWORD / ~/.pgpass, and is never shown: the source
is named with it masked, and it is cut out of any message the server or libpq returns.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from mlobs_cli.backends.logstore.base import Sampling
from mlobs_cli.backends.logstore.sql import SqlLogStore, quote
from mlobs_cli.config import Settings, mask_secret
from mlobs_cli.errors import BackendUnavailable, InputError
from mlobs_cli.logs.query import FEATURES, Filters, Window

DEFAULT_TABLE = "prediction_logs"
_TABLE = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)")
CONNECT_TIMEOUT_S = 10
# what DuckDB reads the exported CSV as, by column; feature columns are DOUBLE
EXPORT_TYPES = {"timestamp": "TIMESTAMPTZ", "model_id": "VARCHAR", "model_version": "VARCHAR",
                "output_class": "VARCHAR", "output_score": "DOUBLE"}


def open_store(url: str, settings: Settings) -> PostgresStore:
    return PostgresStore(url, settings["log.password"], Sampling.from_settings(settings))


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def default_sslmode(host: str | None, query: Sequence[tuple[str, str]], env: Mapping[str, str]) -> str | None:
    """`verify-full` for a database across the network unless the URL (`?sslmode=`) or PGSSLMODE chooses: libpq's
    own default, `prefer`, takes any certificate, or none. A Unix socket or loopback keeps libpq's default."""
    if any(k.lower() == "sslmode" for k, _ in query) or env.get("PGSSLMODE"):
        return None
    if not host or host.startswith("/") or host in LOCAL_HOSTS:
        return None
    return "verify-full"


class PostgresStore(SqlLogStore):
    name = "postgresql"
    float_array = "?::float8[]"
    exact_distinct = True

    def __init__(self, url: str, password: str | None, sampling: Sampling = Sampling()) -> None:
        super().__init__(sampling)
        parts = urlsplit(url)
        query = parse_qsl(parts.query)
        # libpq also takes the password as a query parameter (`?password=...`): masked there too
        shown_query = "&".join("password=****" if p.partition("=")[0].lower() == "password" else p
                               for p in parts.query.split("&")) if parts.query else ""
        self.source = mask_secret(urlunsplit(parts._replace(query=shown_query)))
        table = dict(query).get("table", DEFAULT_TABLE)
        match = _TABLE.fullmatch(table)
        if match is None:
            raise InputError(f"{self.source}: table {table!r}: expected NAME or SCHEMA.NAME")
        self._schema, self._table = match.groups()
        self.relation = ".".join(quote(p) for p in match.groups() if p)
        conninfo = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "table"])))
        self._secrets = [s for s in (password, parts.password, *(v for k, v in query if k.lower() == "password"))
                         if s]
        extra = {"password": password} if password and not parts.password else {}
        sslmode = default_sslmode(parts.hostname, query, os.environ)
        if sslmode:
            extra["sslmode"] = sslmode
        try:
            self._conn = psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True,
                                         options="-c TimeZone=UTC -c default_transaction_read_only=on", **extra)
        except psycopg.Error as e:
            raise BackendUnavailable(f"{self.source}: {self._message(e)}") from None
        self.columns = self._columns()
        if not self.columns:
            raise InputError(f"{self.source}: no table {table} (set another with ?table=SCHEMA.NAME in the URL)")
        self._features = quote(FEATURES) if self.columns.get(FEATURES) == "jsonb" else f"{quote(FEATURES)}::jsonb"

    def inputs(self) -> tuple[str, ...]:
        return ()

    def _message(self, error: Exception) -> str:
        """The first line of a driver error, any password cut out."""
        text = " ".join(str(error).split())
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def _columns(self) -> dict[str, str]:
        sql = ("SELECT lower(column_name), data_type FROM information_schema.columns WHERE table_name = ? AND "
               "table_schema = coalesce(?, current_schema()) ORDER BY ordinal_position")
        return dict(self.execute(sql, [self._table, self._schema]))

    def execute(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        # sql.py writes `?` placeholders and never a literal `%`, so this is the only translation needed
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), list(params))
                return cur.fetchall()
        except psycopg.OperationalError as e:
            raise BackendUnavailable(f"{self.source}: {self._message(e)}") from None
        except psycopg.Error as e:
            raise InputError(f"{self.source}: {self._message(e)}") from None

    def materialize(self, name: str, select: str) -> str:
        # The session is read-only, which forbids even a temporary table, so the rows stay a subquery that is
        # joined. A table PostgreSQL has not analysed yet (loaded minutes ago: autovacuum has not run) is estimated
        # at a row or two, and the planner then picks a nested loop that runs the labels' dedupe once per log row:
        # 94 s for 18,000 labels, against 0.5 s as a hash join. Every join of these rows is a bulk join, never an
        # index lookup, so this session does without nested loops.
        try:
            self._conn.execute("SET enable_nestloop = off")
        except psycopg.Error as e:
            raise BackendUnavailable(f"{self.source}: {self._message(e)}") from None
        return f"({select})"

    def feature_pairs(self, where: str, weight: str) -> str:
        fv = self._features
        return (f"SELECT k, v, w FROM (SELECT f.key AS k, CASE WHEN jsonb_typeof(f.value) = 'number' THEN "
                f"f.value::float8 END AS v, {weight} AS w FROM {self.relation} CROSS JOIN LATERAL jsonb_each(CASE WHEN "
                f"jsonb_typeof({fv}) = 'object' THEN {fv} END) f WHERE {where}) u WHERE v IS NOT NULL")

    def epoch(self, column: str) -> str:
        return f"extract(epoch FROM {column})::float8"

    def distinct_count(self, column: str) -> str:
        return f"count(DISTINCT {column})"

    def export(self, window: Window, filters: Filters, features: Sequence[str], path: str, fmt: str) -> int:
        """COPY the rows out as CSV (the fastest way out of PostgreSQL), then DuckDB writes the file."""
        from mlobs_cli.backends.logstore import files

        value = (f"(SELECT CASE WHEN jsonb_typeof(j) = 'number' THEN j::float8 END FROM "
                 f"(SELECT {self._features} -> ? AS j) s)")
        sql, params, names = self.export_select(window, filters, features, value)
        with tempfile.TemporaryDirectory(prefix="mlobs-") as tmp:
            rows = os.path.join(tmp, "rows.csv")
            try:
                with self._conn.cursor() as cur, open(rows, "wb") as out, \
                        cur.copy(f"COPY ({sql.replace('?', '%s')}) TO STDOUT (FORMAT csv)", params) as copy:
                    out.writelines(copy)
            except psycopg.OperationalError as e:
                raise BackendUnavailable(f"{self.source}: {self._message(e)}") from None
            except psycopg.Error as e:
                raise InputError(f"{self.source}: {self._message(e)}") from None
            con = files.connect()
            try:
                rel = con.read_csv(rows, header=False, columns={n: EXPORT_TYPES.get(n, "DOUBLE") for n in names})
                return files.write(con, rel, names, files.feature_aliases(names, features), path, fmt)
            finally:
                con.close()

    def close(self) -> None:
        self._conn.close()
