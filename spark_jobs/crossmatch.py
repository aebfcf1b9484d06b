"""spark-submit entry point of the cross-match (thin: arguments in, radiolake.crossmatch does the work).

    spark-submit spark_jobs/crossmatch.py --radio racs_low --stars gaia_dr3 --radius-arcsec 2 --offsets 8
The master comes from spark-submit (--master) or RADIOLAKE_SPARK_MASTER.
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--radio", required=True)
    p.add_argument("--stars", required=True)
    p.add_argument("--radius-arcsec", type=float)
    p.add_argument("--n-sigma", type=float)
    p.add_argument("--offsets", type=int, default=8)
    p.add_argument("--offset-arcmin", type=float, default=3.0)
    p.add_argument("--k-nearest", type=int)
    p.add_argument("--out")
    p.add_argument("--run-id")
    p.add_argument("--join-order", type=int)
    a = p.parse_args(argv)
    if a.radius_arcsec is None and a.n_sigma is None:
        p.error("give --radius-arcsec, --n-sigma or both")
    from radiolake.crossmatch.runner import crossmatch_run

    summary = crossmatch_run(
        a.radio,
        a.stars,
        radius_arcsec=a.radius_arcsec,
        n_sigma=a.n_sigma,
        offsets=a.offsets,
        offset_arcmin=a.offset_arcmin,
        k_nearest=a.k_nearest,
        out=a.out,
        run_id=a.run_id,
        join_order=a.join_order,
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "stats"}))
    return summary


if __name__ == "__main__":
    main()
