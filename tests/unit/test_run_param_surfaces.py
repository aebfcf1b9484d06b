"""The run parameters' surfaces, generated from their one declaration, are what they were when each was written
by hand (names, types, defaults, bounds; docs/configuration.md), and every parameter is reachable wherever
it is declared to apply."""

from __future__ import annotations

import argparse
import ast
import math
import re
from pathlib import Path

import pytest
import typer
from typer.main import get_command

from radiolake.run_param_surfaces import (
    airflow_params,
    markdown_table,
    parse_spark_argv,
    spark_argv,
    spark_parser,
)
from radiolake.run_params import (
    CUT_NAMES,
    EPOCH_PATTERN,
    FOR_RADIO_PATTERN,
    NAME_PATTERN,
    PARAMS,
    SURFACES,
    CrossmatchParams,
    IngestParams,
    RunParamError,
    check_values,
    survey_choices,
)

REPO = Path(__file__).resolve().parents[2]
NULL_NUM, NULL_INT, NULL_STR = ["null", "number"], ["null", "integer"], ["null", "string"]
CUT_SCHEMAS = {
    "parallax_snr_min": (None, {"type": NULL_NUM, "minimum": 0}),
    "grade_a_min_probability": (None, {"type": NULL_NUM, "minimum": 0, "maximum": 1}),
    "grade_a_min_parallax_snr": (None, {"type": NULL_NUM, "minimum": 0}),
    "grade_b_min_probability": (None, {"type": NULL_NUM, "minimum": 0, "maximum": 1}),
}
SEARCH = {
    "radius_arcsec": (30.0, {"type": NULL_NUM, "exclusiveMinimum": 0, "maximum": 3600,
                             "title": "Match radius (arcsec)"}),
    "n_sigma": (5.0, {"type": NULL_NUM, "exclusiveMinimum": 0, "title": "n sigma"}),
    "offsets": (8, {"type": "integer", "minimum": 0, "maximum": 64,
                    "title": "Offset skies (false-association rate)"}),
    "offset_arcmin": (3.0, {"type": "number", "exclusiveMinimum": 0, "title": "Offset size (arcmin)"}),
}
#: Issue 22: match only the radio rows a star version has not met (crossmatch.increment).
ONLY_NEW = {"only_new": (True, {"type": "boolean", "title": "Match only new radio rows"})}
INGEST = {
    "region": ("all", {"type": "string", "title": "Sky region"}),
    "rows": (None, {"type": NULL_INT, "minimum": 1, "title": "Synthetic sky: stars"}),
    "seed": (None, {"type": NULL_INT, "title": "Synthetic sky: seed"}),
    "path": (None, {"type": NULL_STR, "title": "Local file (file surveys; else the survey's source)"}),
    "max_bad_fraction": (None, {"type": NULL_NUM, "minimum": 0, "maximum": 1, "title": "Max share of rejected rows"}),
    "allow_large_fetch": (False, {"type": "boolean", "title": "Allow a large fetch"}),
    # issue 22: stars only over a radio catalogue's footprint (ingest.for_radio)
    "for_radio": (None, {"type": NULL_STR, "pattern": FOR_RADIO_PATTERN,
                         "title": "Only where this radio catalogue has sources"}),
    "footprint_mode": (None, {"type": NULL_STR, "pattern": "^(pixels|upload)$", "title": "Footprint fetch mode"}),
    "fetch_radius_arcsec": (30.0, {"type": "number", "exclusiveMinimum": 0, "maximum": 3600,
                                   "title": "With for_radio: match radius to fetch for (arcsec)"}),
}
#: Each DAG form as it was written by hand before the declaration: {name: (default, JSON schema)}. Titles
#: that two forms spelled differently for one parameter are now one (offsets, region, rows, seed).
FORMS = {
    "pipeline": {
        "radio_survey": ("synthetic_radio", {"enum": survey_choices("radio"), "title": "Radio survey"}),
        "stars_survey": ("synthetic_stars", {"enum": survey_choices("stellar"), "title": "Stellar catalogue"}),
        "region": ("cone:270,-30,3", {"type": "string", "title": "Sky region"}),
        "epoch": (None, {"type": NULL_STR, "pattern": EPOCH_PATTERN, "title": "Radio epoch"}),
        "rows": (20000, {"type": NULL_INT, "minimum": 100, "title": "Synthetic sky: stars"}),
        "seed": (42, {"type": NULL_INT, "title": "Synthetic sky: seed"}),
        "radio_path": (None, {"type": NULL_STR, "title": "Radio file (file surveys)"}),
        "stars_path": (None, {"type": NULL_STR, "title": "Stars file (file surveys)"}),
        **SEARCH,
        **ONLY_NEW,
        **CUT_SCHEMAS,
    },
    "crossmatch_dag": {
        "radio": ("racs_low", {"type": "string", "pattern": NAME_PATTERN, "title": "Radio catalogue (lake name)"}),
        "stars": ("gaia_dr3", {"type": "string", "pattern": NAME_PATTERN, "title": "Stellar catalogue (lake name)"}),
        **SEARCH,
        "k_nearest": (None, {"type": NULL_INT, "minimum": 1, "title": "Keep k nearest per source"}),
        **ONLY_NEW,
    },
    "ingest_dag": INGEST,
    "warehouse_dag": {
        "run_id": (None, {"type": NULL_STR, "pattern": NAME_PATTERN, "title": "Run id"}),
        **CUT_SCHEMAS,
    },
}


@pytest.mark.parametrize("surface", sorted(FORMS))
def test_each_dag_form_has_the_fields_defaults_types_and_bounds_it_had(surface):
    params = airflow_params(surface)
    assert list(params) == list(FORMS[surface])
    for name, (default, schema) in FORMS[surface].items():
        assert params[name].value == default, name
        assert params[name].schema == schema, name
        assert params[name].description, f"{name} has no help in the form"


def test_optional_form_fields_are_null_able_so_the_form_does_not_require_them():
    for surface in FORMS:
        for name, param in airflow_params(surface).items():
            if param.value is None:
                assert "null" in param.schema["type"], f"{surface}.{name}"


@pytest.mark.parametrize(("dag_file", "surface"), [("pipeline.py", "pipeline"), ("crossmatch.py", "crossmatch_dag"),
                                                   ("ingest.py", "ingest_dag"), ("warehouse.py", "warehouse_dag")])
def test_each_dag_file_takes_its_form_from_the_declaration(dag_file, surface):
    """The DAG files declare no Param of their own: their only `params=` is the generated form."""
    tree = ast.parse((REPO / "dags" / dag_file).read_text())
    params = [k.value for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "params"]
    assert len(params) == 1 and isinstance(params[0], ast.Call)
    assert params[0].func.id == "airflow_params" and params[0].args[0].value == surface
    assert "Param(" not in (REPO / "dags" / dag_file).read_text()


@pytest.mark.parametrize(("dag_file", "dag_id", "surface"), [("crossmatch.py", "crossmatch", "crossmatch_dag"),
                                                             ("ingest.py", "ingest_synthetic_radio", "ingest_dag")])
def test_the_parsed_dags_show_the_generated_form(dag_file, dag_id, surface):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / dag_file))
    assert bag.import_errors == {}
    dag_params = bag.dags[dag_id].params
    assert list(dag_params) == list(SURFACES[surface])
    assert {k: dag_params.get_param(k).schema for k in dag_params} == {k: s for k, (_, s) in FORMS[surface].items()}


def _cli(command_name: str) -> dict:
    from radiolake.crossmatch.cli import crossmatch
    from radiolake.ingest.cli import ingest

    app = typer.Typer()
    app.command("crossmatch")(crossmatch)
    app.command("ingest")(ingest)
    return {p.name: p for p in get_command(app).commands[command_name].params}


#: The CLI options as they were written by hand: {name: (default or "required", type)}. The ingest --region
#: defaults to "all" (it was None, which the region parser reads as "all"); --path takes text (was a Path).
CLI = {
    "crossmatch": {
        "radio": ("required", str), "stars": ("required", str), "radius_arcsec": (30.0, float),
        "n_sigma": (5.0, float), "offsets": (8, int), "offset_arcmin": (3.0, float), "k_nearest": (None, int),
        "out": (None, str), "run_id": (None, str), "join_order": (None, int), "radio_epoch": (None, float),
        "stars_epoch": (None, float), "executor": ("auto", str), "only_new": (True, bool),
        "fixed_radius": (False, bool), "master": (None, str),
    },
    "ingest": {
        "region": ("all", str), "rows": (None, int), "seed": (None, int), "path": (None, str),
        "max_bad_fraction": (None, float), "allow_large_fetch": (False, bool), "for_radio": (None, str),
        "footprint_mode": (None, str), "fetch_radius_arcsec": (30.0, float), "survey": ("", str),
        "name": (None, str), "local": (None, Path), "list_surveys": (False, bool),
    },
}


@pytest.mark.parametrize("command", sorted(CLI))
def test_cli_options_have_the_names_types_and_defaults_they_had(command):
    options = _cli(command)
    assert set(options) == set(CLI[command])
    for name, (default, type_) in CLI[command].items():
        option = options[name]
        shown = ("required" if option.required else option.default, option.type_descriptor.annotation)
        assert shown == (default, type_), name
        if name not in ("survey", "list_surveys"):
            assert option.opts == ["--" + name.replace("_", "-")]


#: The spark-submit job's options as written by hand: {name: (default or "required", type)}.
SPARK = {"radio": ("required", str), "stars": ("required", str), "radius_arcsec": (None, float),
         "n_sigma": (None, float), "offsets": (8, int), "offset_arcmin": (3.0, float), "k_nearest": (None, int),
         "out": (None, str), "run_id": (None, str), "join_order": (None, int), "only_new": (True, None)}


def test_spark_argv_options_have_the_names_types_and_defaults_they_had():
    actions = {a.dest: a for a in spark_parser()._actions if not isinstance(a, argparse._HelpAction)}
    assert {dest: ("required" if a.required else a.default, a.type) for dest, a in actions.items()} == SPARK
    assert all(a.option_strings[0] == "--" + dest.replace("_", "-") for dest, a in actions.items())
    assert actions["only_new"].option_strings == ["--only-new", "--no-only-new"]


def test_spark_argv_round_trips_and_needs_a_search():
    params = CrossmatchParams.from_values("spark", {"radio": "racs_low", "stars": "gaia_dr3", "n_sigma": 3,
                                                    "k_nearest": 2, "out": "s3://xmatch/x"})
    argv = spark_argv(params)
    assert argv[:4] == ["--radio", "racs_low", "--stars", "gaia_dr3"] and "--radius-arcsec" not in argv
    assert parse_spark_argv(argv) == params
    assert spark_argv({"radio": "r", "stars": "s", "radius_arcsec": 2.0}) == [
        "--radio", "r", "--stars", "s", "--radius-arcsec", "2.0"]
    # a bool is a flag pair: False must reach the job as False (argparse's bool("False") is True)
    rerun = CrossmatchParams.from_values("spark", {"radio": "r", "stars": "s", "radius_arcsec": 2.0,
                                                   "only_new": False})
    assert spark_argv(rerun)[-1] == "--no-only-new" and parse_spark_argv(spark_argv(rerun)).only_new is False
    assert parse_spark_argv(["--radio", "r", "--stars", "s", "--radius-arcsec", "2"]).only_new is True
    with pytest.raises(SystemExit) as exit_:
        parse_spark_argv(["--radio", "r", "--stars", "s"])
    assert exit_.value.code == 2
    with pytest.raises(RunParamError, match="master"):
        spark_argv({"radio": "r", "stars": "s", "master": "local"})


def test_every_parameter_is_reachable_from_every_surface_that_declares_it():
    """Each parameter is on some surface; where a surface lists it, the generated form, command or parser has
    it; what the cross-match DAG form and spark-submit set, the CLI sets too; ingest CLI = ingest DAG."""
    declared = {p.name for p in PARAMS}
    assert declared == {name for names in SURFACES.values() for name in names}
    cli = {"cli_crossmatch": set(_cli("crossmatch")), "cli_ingest": set(_cli("ingest"))}
    spark = {a.dest for a in spark_parser()._actions}
    for surface, names in SURFACES.items():
        shown = cli.get(surface) or (spark if surface == "spark" else set(airflow_params(surface)))
        assert set(names) <= shown, surface
    assert set(SURFACES["crossmatch_dag"]) | set(SURFACES["spark"]) <= set(SURFACES["cli_crossmatch"])
    assert SURFACES["cli_ingest"] == SURFACES["ingest_dag"]
    assert set(CUT_NAMES) <= set(SURFACES["pipeline"]) & set(SURFACES["warehouse_dag"])
    stages = {p.stage for p in PARAMS}
    assert stages == {"ingest", "synthetic sky", "cross-match", "candidate cuts"}


@pytest.mark.parametrize(("surface", "values", "bad"), [
    ("crossmatch_dag", {"radius_arcsec": None, "n_sigma": None}, "radius_arcsec and n_sigma"),
    ("crossmatch_dag", {"offsets": 65}, "offsets"),
    ("crossmatch_dag", {"radius_arcsec": "3"}, "radius_arcsec"),
    ("crossmatch_dag", {"radius_arcsec": 0}, "radius_arcsec"),
    ("crossmatch_dag", {"n_sigma": math.inf}, "n_sigma"),
    ("crossmatch_dag", {"k_nearest": 1.5}, "k_nearest"),
    ("crossmatch_dag", {"k_nearest": True}, "k_nearest"),
    ("crossmatch_dag", {"radio": "../reports"}, "radio"),
    ("cli_crossmatch", {"radio": "r", "stars": "s", "join_order": 30}, "join_order"),
    ("spark", {"radio": "r", "stars": "s"}, "radius_arcsec and n_sigma"),
])
def test_bad_cross_match_values_are_refused_naming_the_parameter(surface, values, bad):
    with pytest.raises(RunParamError, match=re.escape(bad)):
        CrossmatchParams.from_values(surface, values)


def test_cross_match_values_are_typed_and_empty_means_empty():
    params = CrossmatchParams.from_values("crossmatch_dag", {"radius_arcsec": None, "n_sigma": 3, "offsets": 4.0})
    assert (params.radius_arcsec, params.n_sigma, params.offsets, params.radio) == (None, 3.0, 4, "racs_low")
    assert isinstance(params.offsets, int) and isinstance(params.n_sigma, float)
    pipeline = CrossmatchParams.from_values("pipeline", {}, radio="synthetic_radio", stars="synthetic_stars")
    assert (pipeline.radius_arcsec, pipeline.n_sigma, pipeline.offsets) == (30.0, 5.0, 8)


def test_ingest_values_per_surface():
    assert IngestParams.from_values("ingest_dag", {"path": "", "rows": 3000}) == IngestParams(rows=3000)
    survey, params = IngestParams.for_role("stars", {"stars_survey": "", "stars_path": "gaia.csv"})
    assert survey == "synthetic_stars"
    assert params == IngestParams(region="cone:270,-30,3", rows=20000, seed=42, path="gaia.csv")
    with pytest.raises(RunParamError, match="rows=50 is below its minimum 100"):
        check_values("pipeline", {"rows": 50})
    with pytest.raises(RunParamError, match="radio_survey"):
        check_values("pipeline", {"radio_survey": "gaia_dr3"})
    with pytest.raises(RunParamError, match="max_bad_fraction"):
        IngestParams.from_values("cli_ingest", {"max_bad_fraction": 1.5})


def test_the_docs_table_is_the_declaration():
    """docs/configuration.md shows the table generated from the declaration: edit PARAMS, then paste
    `python -c 'from radiolake.run_param_surfaces import markdown_table; print(markdown_table())'`."""
    page = (REPO / "docs" / "configuration.md").read_text()
    start, end = "<!-- run-params:start -->\n", "<!-- run-params:end -->"
    assert page[page.index(start) + len(start):page.index(end)] == markdown_table()


def test_every_environment_setting_the_code_reads_is_on_the_configuration_page():
    """A `RADIOLAKE_*` variable the code reads, but docs/configuration.md does not name, fails this test (a
    family such as RADIOLAKE_TIMEOUT_<STEP>_MINUTES counts by its pattern)."""
    page = (REPO / "docs" / "configuration.md").read_text()
    families = [re.compile(re.sub(r"<[A-Z]+>", "[A-Z_]+", f)) for f in re.findall(r"`(RADIOLAKE_[A-Z_<>]+)`", page)]
    used = set()
    for path in [*(REPO / "radiolake").rglob("*.py"), *(REPO / "dags").glob("*.py")]:
        used |= set(re.findall(r"RADIOLAKE_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    missing = sorted(name for name in used if name not in page and not any(f.fullmatch(name) for f in families))
    assert missing == []
