"""Positional cross-match of radio sources against stellar catalogues.

The numpy core (sky, epochs, partitioning, pairs, density, offsets, core) is what decides which pairs exist;
the Spark job (job.py) only schedules that same engine (engine.py) over star chunks read where they lie
(star_task.py), so both give the same pairs.
"""
