"""spark-submit entry point of the cross-match (thin: arguments in, radiolake.crossmatch does the work).

    spark-submit spark_jobs/crossmatch.py --radio racs_low --stars gaia_dr3 --radius-arcsec 2 --offsets 8
The master comes from spark-submit (--master) or RADIOLAKE_SPARK_MASTER. The options are generated from the
run parameters' declaration (radiolake.run_params; docs/configuration.md).
"""

from __future__ import annotations

import json


def main(argv: list[str] | None = None) -> dict:
    from radiolake.crossmatch.runner import crossmatch_run_params
    from radiolake.run_param_surfaces import parse_spark_argv

    summary = crossmatch_run_params(parse_spark_argv(argv, __doc__.splitlines()[0]))
    print(json.dumps({k: v for k, v in summary.items() if k != "stats"}))
    return summary


if __name__ == "__main__":
    main()
