"""Benchmarks, each run from the repository root as `python -m bench.NAME` (dispatch,
dispatch_sqlite, ops, sms_webhook, webchat_poll; `--quick` for a small run that still makes every
check). Shared helpers are `bench.checks` and `bench.sql_counter`; helpers from the tests are
imported as `tests.NAME`. See the README, Performance."""
