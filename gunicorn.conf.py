"""gunicorn's settings for the Procfile's web process (`gunicorn -c gunicorn.conf.py ...`).

gunicorn's own error and access logs go through keepposted's handler, so every line is JSON
(or text, with LOG_FORMAT=text) with phone numbers and web chat tokens masked.
"""

from bot.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()
