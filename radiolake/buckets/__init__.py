"""The lake's bucket browser, served by Airflow's api-server behind the Airflow login (see browser.py)."""

#: Where the api-server mounts the browser (also what `stack status` prints).
URL_PREFIX = "/buckets"
