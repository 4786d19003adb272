"""The store's engines: SQLite (embedded default) and PostgreSQL, one portable SQL dialect.

`emulator.store` is the API the models use; this package holds what sits under it: the
SQL translation (`dialect`), the PostgreSQL connection (`postgres`) and the versioned
migrations (`migrations`). docs/scaling.md lists the SQL the store accepts.
"""
