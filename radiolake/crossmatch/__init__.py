"""Positional cross-match of radio sources against stellar catalogues.

The numpy core (sky, epochs, partitioning, pairs, kernels, density, offsets) decides which pairs exist; one
driver (driver.py) plans star chunks, maps them on an executor (executors.py: Spark, or Python's map in this
process), reduces and writes, so every entry point (CLI, spark-submit, DAGs, core.crossmatch_frames) gives the
same pairs through the same code.
"""
