"""The web layer: one Flask blueprint per door (`api`, `sms`, `slack`, `webchat`, `admin/`) plus
`metrics`. A view verifies, parses, calls the engine and answers; `static/` holds the scripts
and styles the pages load.
"""
