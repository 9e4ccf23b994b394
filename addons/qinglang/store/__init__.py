"""What is kept: the event log (SQLite, PostgreSQL), shared state in Redis, a parent's
overrides, the dashboard's database, keys and the CA's certificate files, and where each of
them lives."""
