"""`make bench`: the datastore measured at scale, each figure against a baseline from the same run.

Modules: scale (row counts and repeats), database (the benchmark's own database and what the
schema offers), datagen (set-based data), measure (samples, median, p95, paired timing),
requests (a PostgREST-style request), rls, vectors, analytics, store_ops, contention (the
sections), runner, report, plots, cli.
"""
