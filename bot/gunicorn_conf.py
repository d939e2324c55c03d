"""gunicorn's settings for the web process: `gunicorn -c python:bot.gunicorn_conf ...` (the
Procfile) and `keepposted serve` use the same ones.

gunicorn's own error and access logs go through keepposted's handler, so every line is JSON
(or text, with LOG_FORMAT=text) with phone numbers and web chat tokens masked. gunicorn's
control socket is off: by default every gunicorn of a user shares one path for it
(~/.gunicorn/gunicorn.ctl), so two servers on one machine would fight over it. Pass
`--control-socket PATH` to have one.
"""

from bot.process_logging import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()
control_socket_disable = True
