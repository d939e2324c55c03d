"""The demo: `seed` (the story cases), `history` (three weeks of past cases for the charts) and
`simulate` (playing the customer against a running server).
"""
