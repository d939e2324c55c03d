"""The engine: customer messages in, case changes out. `inbound` stores and answers a
customer's message, `actions` is the one owner of case transitions, `contacts` finds and
addresses people, `alerts` tells the team, `summary` and `links` (signed web chat links).
No web framework and no provider SDK here.
"""
