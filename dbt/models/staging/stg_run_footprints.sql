-- Where each run's detections are the newest word (issue 22): HEALPix ranges [lo, hi) at order 29, the
-- order of every row's healpix (macros/supersede.sql, run_footprint_ranges). A run without a footprint
-- covers the whole sky, so the newest run supersedes every older one, as before footprints.
{{ run_footprint_ranges() }}
