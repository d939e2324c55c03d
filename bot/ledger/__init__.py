"""The resolution-confirmation log: `chain` (the hash-chained entries and their verification),
`export` and `redact` (exports for compliance), `verify_file` (checking an export offline).
"""
