"""Catalogue ingestion: fetch (raw) → normalize (validate, quarantine) → write HEALPix-partitioned Parquet.

Entry point for the DAG and the CLI: `radiolake.ingest.run.ingest_survey`.
"""
