"""Schemas of the cross-match results: the contract between the Spark job and the warehouse load.

A run writes one folder (in the xmatch bucket, `xmatch/<run_id>/`, or a local `--out`):

    pairs/          all (radio, star) pairs within the radius, PAIRS_SCHEMA
    best/           rank-1 pair per radio source, PAIRS_SCHEMA
    offset_stats/   false-association statistics from offset skies, OFFSET_STATS_SCHEMA
    radio_sources/  the matched radio rows (canonical + survey columns), plus `survey`
    stars/          the matched star rows (canonical + survey columns), plus `survey`
    association/    what each radio source brought to the association prior (runs of a lake catalogue;
                    crossmatch/association_inputs.py; not loaded into the warehouse)
    run.json        RUN_FIELDS: parameters and counts; written last, so its presence marks a whole run
"""

from __future__ import annotations

import pyarrow as pa

PAIRS_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("radio_id", pa.string(), nullable=False),
    pa.field("star_id", pa.string(), nullable=False),
    pa.field("separation_arcsec", pa.float64(), nullable=False),
    pa.field("separation_sigma", pa.float64()),  # null when neither side has positional errors
    pa.field("combined_error_arcsec", pa.float64()),  # det(C)^(1/4) of radio (+) star covariance; null as above
    pa.field("dt_years", pa.float64(), nullable=False),  # radio epoch - star catalogue epoch
    pa.field("pm_applied", pa.bool_(), nullable=False),  # False: star had no proper motion, matched as is
    pa.field("rank", pa.int32(), nullable=False),  # 1 = nearest star to this radio source
    pa.field("star_density_deg2", pa.float64(), nullable=False),  # local density of the star's class, /deg^2
    pa.field("p_chance", pa.float64(), nullable=False),  # 1 - exp(-pi r^2 rho)
    pa.field("star_ra_at_epoch", pa.float64(), nullable=False),  # deg, star moved to the radio epoch
    pa.field("star_dec_at_epoch", pa.float64(), nullable=False),
    # Sutherland & Saunders 1992: LR = f(offset | errors) / local star density; the posterior that this star
    # is the radio source's counterpart, with the prior measured from the offset skies (crossmatch/likelihood.py).
    pa.field("likelihood_ratio", pa.float64()),  # null when the errors are unknown
    pa.field("association_probability", pa.float64()),
    # The star's population (crossmatch/populations.py): 'star' (significant parallax or proper motion, RUWE
    # < 1.4), 'extragalactic' (neither: quasars, galaxies, unknown) or 'uncertain' (RUWE >= 1.4). The density
    # (star_density_deg2, p_chance) and the prior behind the posterior are those of the star's own class.
    pa.field("population", pa.string()),
])

OFFSET_STATS_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("region_order", pa.int32(), nullable=False),  # HEALPix order of the sky regions
    pa.field("region_pixel", pa.int64(), nullable=False),  # nested pixel at region_order
    pa.field("radius_arcsec", pa.float64(), nullable=False),  # matches counted within this radius
    pa.field("n_offsets", pa.int32(), nullable=False),
    pa.field("n_radio", pa.int64(), nullable=False),  # radio sources in the region
    pa.field("false_matches_total", pa.int64(), nullable=False),  # summed over all offset skies
    pa.field("expected_false_matches", pa.float64(), nullable=False),  # total / n_offsets
])

RUN_FIELDS = {
    "run_id": "unique id of the run (string)",
    "created_utc": "ISO time the run finished",
    "radio_catalog": "name of the radio catalogue", "star_catalog": "name of the stellar catalogue",
    "radius_arcsec": "fixed radius (null if only n-sigma)", "n_sigma": "n-sigma radius (null if unused)",
    "n_offsets": "number of offset skies", "offset_arcmin": "size of the offsets",
    "n_radio": "radio rows read", "n_stars": "star rows read", "n_pairs": "pairs written",
    "n_best": "radio sources with a match", "expected_false_matches": "sum over regions",
    "association_prior": "prior of a counterpart: the run's and per region (from the offset skies)",
}
