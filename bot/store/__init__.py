"""The database: `models`, `db` (engines and sessions), `migrate` and `migrations` (Alembic),
`records` (the JSON shape of a case, contact, message and note for the API and CLI).
"""
