"""The `/case` language agents speak in Slack: `commands` (each subcommand) and `args`
(reading their arguments).
"""
