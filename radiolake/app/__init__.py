"""The app layer: what a person or a DAG starts (command-line entry, demo, smoke checks, the Airflow client).

Modules here import the domain packages (`ingest`, `crossmatch`, `warehouse`, `reports`) and the embedded
stack; nothing below imports them (tests/static/test_architecture.py checks the direction).
"""
