"""Airflow plugin (thin wiring): mounts radiolake's bucket browser in the api-server, behind the Airflow login.

The app is `radiolake.buckets.browser`; this file only registers it and adds a "Lake buckets" link to the
UI's navigation.
"""

from airflow.plugins_manager import AirflowPlugin

from radiolake.buckets.browser import URL_PREFIX, create_app


class RadiolakeBucketsPlugin(AirflowPlugin):
    name = "radiolake_buckets"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Lake buckets"}]
    external_views = [{"name": "Lake buckets", "href": f"{URL_PREFIX}/", "destination": "nav",
                       "category": "browse"}]
