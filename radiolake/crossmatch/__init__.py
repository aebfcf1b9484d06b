"""Positional cross-match of radio sources against stellar catalogues.

The numpy core (sky, epochs, partitioning, pairs, density, offsets, core) is what decides which pairs exist;
the Spark job (job.py) only distributes that same core over HEALPix partitions, so both give the same pairs.
"""
