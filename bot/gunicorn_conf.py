"""gunicorn's settings for the web process: `gunicorn -c python:bot.gunicorn_conf ...` (the
Procfile) and `keepposted serve` use the same ones.

gunicorn's own error and access logs go through keepposted's handler, so every line is JSON
(or text, with LOG_FORMAT=text) masked by `bot.process_logging.mask_sensitive`: the access log's
request line and referer carry query strings, with phone numbers (URL-encoded too), web chat
tokens and secret-looking parameters in them. gunicorn's
control socket is off: by default every gunicorn of a user shares one path for it
(~/.gunicorn/gunicorn.ctl), so two servers on one machine would fight over it. Pass
`--control-socket PATH` to have one.
"""

from bot.process_logging import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()
control_socket_disable = True
