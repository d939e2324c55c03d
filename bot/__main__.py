"""`python -m bot` is `keepposted`."""

from bot.cli import main

main()
