-- Load schema: faithful, per-run copies of the cross-match results (radiolake/results.py).
-- Every table carries run_id, so runs are versioned side by side and can be compared. The data tables are
-- LIST-partitioned by run_id: the loader COPYs a run into fresh tables, indexes them, and in the same
-- transaction drops the run's previous partitions and attaches the new ones (staging + swap). A rerun never
-- duplicates, replacing a run costs a DROP instead of a million-row DELETE, and readers keep seeing the old
-- version until the commit. Idempotent: safe to run on every load.
-- Keys: each partition gets a primary key (run_id + the table's key within a run, tables.py) from the load,
-- built once after COPY (an index maintained row by row during COPY cost half the load time of a million
-- pairs); so Postgres itself refuses a duplicate and dbt needs no unique test on the staging keys. No
-- foreign keys: the loader checks every reference before COPY, dbt's relationships tests check them again,
-- and validating them in the load measured 4.8 s for a 1 M-pair run (more than the tests).
CREATE SCHEMA IF NOT EXISTS load;

CREATE TABLE IF NOT EXISTS load.runs (
    run_id                  text PRIMARY KEY,
    created_utc             timestamptz,
    radio_catalog           text,
    star_catalog            text,
    radius_arcsec           double precision,
    n_sigma                 double precision,
    n_offsets               integer,
    offset_arcmin           double precision,
    n_radio                 bigint,
    n_stars                 bigint,
    n_pairs                 bigint,
    n_best                  bigint,
    expected_false_matches  double precision,
    source_uri              text NOT NULL,          -- where the results folder was read from
    run_json                jsonb NOT NULL,         -- run.json as written, for fields added later
    loaded_at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS load.radio_sources (
    run_id          text NOT NULL,
    source_id       text NOT NULL,
    survey          text NOT NULL,
    ra              double precision NOT NULL,
    dec             double precision NOT NULL,
    ra_error        double precision,
    dec_error       double precision,
    epoch           double precision NOT NULL,
    healpix         bigint NOT NULL,
    flux_peak_mjy   double precision,
    flux_int_mjy    double precision,
    flux_error_mjy  double precision,
    freq_mhz        double precision,
    flux_v_peak_mjy double precision,   -- Stokes V, where the survey measures it
    flux_v_int_mjy  double precision,
    flux_v_error_mjy double precision
) PARTITION BY LIST (run_id);
-- Columns added after the first release: a warehouse created before them gains them here (the staged
-- tables of a load are made LIKE the parent, so they follow).
ALTER TABLE load.radio_sources ADD COLUMN IF NOT EXISTS flux_v_peak_mjy double precision;
ALTER TABLE load.radio_sources ADD COLUMN IF NOT EXISTS flux_v_int_mjy double precision;
ALTER TABLE load.radio_sources ADD COLUMN IF NOT EXISTS flux_v_error_mjy double precision;

CREATE TABLE IF NOT EXISTS load.stars (
    run_id              text NOT NULL,
    source_id           text NOT NULL,
    survey              text NOT NULL,
    ra                  double precision NOT NULL,
    dec                 double precision NOT NULL,
    ra_error            double precision,
    dec_error           double precision,
    epoch               double precision NOT NULL,
    pmra                double precision,
    pmdec               double precision,
    parallax            double precision,
    parallax_error      double precision,
    healpix             bigint NOT NULL,
    phot_g_mean_mag     double precision,
    phot_bp_mean_mag    double precision,
    phot_rp_mean_mag    double precision,
    bp_rp               double precision
) PARTITION BY LIST (run_id);

CREATE TABLE IF NOT EXISTS load.offset_stats (
    run_id                  text NOT NULL,
    region_order            integer NOT NULL,
    region_pixel            bigint NOT NULL,
    region_ra               double precision NOT NULL,  -- deg, pixel centre (added at load, cdshealpix)
    region_dec              double precision NOT NULL,
    radius_arcsec           double precision NOT NULL,  -- counts are reported on a grid of radii
    n_offsets               integer NOT NULL,
    n_radio                 bigint NOT NULL,
    false_matches_total     bigint NOT NULL,
    expected_false_matches  double precision NOT NULL
) PARTITION BY LIST (run_id);

-- pairs and best share PAIRS_SCHEMA.
CREATE TABLE IF NOT EXISTS load.pairs (
    run_id              text NOT NULL,
    radio_id            text NOT NULL,
    star_id             text NOT NULL,
    separation_arcsec   double precision NOT NULL,
    separation_sigma    double precision,
    dt_years            double precision NOT NULL,
    pm_applied          boolean NOT NULL,
    rank                integer NOT NULL,
    star_density_deg2   double precision NOT NULL,
    p_chance            double precision NOT NULL,
    star_ra_at_epoch    double precision NOT NULL,
    star_dec_at_epoch   double precision NOT NULL,
    combined_error_arcsec   double precision,
    likelihood_ratio        double precision,
    association_probability double precision,
    population              text               -- star / extragalactic / uncertain (crossmatch/populations.py)
) PARTITION BY LIST (run_id);

CREATE TABLE IF NOT EXISTS load.best (
    run_id              text NOT NULL,
    radio_id            text NOT NULL,
    star_id             text NOT NULL,
    separation_arcsec   double precision NOT NULL,
    separation_sigma    double precision,
    dt_years            double precision NOT NULL,
    pm_applied          boolean NOT NULL,
    rank                integer NOT NULL,
    star_density_deg2   double precision NOT NULL,
    p_chance            double precision NOT NULL,
    star_ra_at_epoch    double precision NOT NULL,
    star_dec_at_epoch   double precision NOT NULL,
    combined_error_arcsec   double precision,
    likelihood_ratio        double precision,
    association_probability double precision,
    population              text               -- star / extragalactic / uncertain (crossmatch/populations.py)
) PARTITION BY LIST (run_id);

-- Warehouses created before the association step (issue 12) gain its columns (COPY names its columns, so
-- their position does not matter). Checked first: ALTER TABLE would lock the table on every load otherwise.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['pairs', 'best'] LOOP
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'load'
                       AND table_name = t AND column_name = 'association_probability') THEN
            EXECUTE format('ALTER TABLE load.%I ADD COLUMN IF NOT EXISTS combined_error_arcsec double precision, '
                           'ADD COLUMN IF NOT EXISTS likelihood_ratio double precision, '
                           'ADD COLUMN IF NOT EXISTS association_probability double precision', t);
        END IF;
        -- the population of each pair's star (issue 21)
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'load'
                       AND table_name = t AND column_name = 'population') THEN
            EXECUTE format('ALTER TABLE load.%I ADD COLUMN IF NOT EXISTS population text', t);
        END IF;
    END LOOP;
END $$;

-- Runs refused by validation, with the reason: the results folder stays where it was, nothing is loaded.
CREATE TABLE IF NOT EXISTS load.rejected_runs (
    source_uri  text NOT NULL,
    run_id      text,
    reason      text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
