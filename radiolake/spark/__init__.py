"""Spark for radiolake: sessions (session), the Arrow data source over S3 (io), the Python worker daemon
(daemon) and the driver's class-data-sharing archive (cds).

Kept empty: Spark's workers import `radiolake.spark.daemon` at every start, so this package must stay cheap.
"""
