"""The customer-facing wording, one Jinja2 template per message, channel and locale.

In the wheel this folder is the package `bot.templates`, so the product finds it with
importlib.resources wherever it is installed (see `bot.render`).
"""
