"""What ops run and read: `report`, `backlog` (keepposted status), `notes_search`,
`config_check`, `readiness` (/healthz and refusing to start), `scaffold` (keepposted init).
"""
