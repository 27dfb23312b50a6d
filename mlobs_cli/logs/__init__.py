"""The prediction-log store: what `mlobs logs` asks of the logs, and the typed answers.

Pure logic: the queries are described here (`query`), run by a backend of `mlobs_cli.backends.logstore`, and
turned into results (`results`) that `render` draws. Nothing here imports DuckDB, psycopg or rich.
"""
