"""ClickHouse: the schema (declared once), the embedded and server backends, the read queries, the spool."""
