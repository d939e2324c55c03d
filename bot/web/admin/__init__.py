"""/admin, the ops view: `routes` (pages), `auth` (sign-in, session, CSRF), `view` (what the
pages show).
"""
