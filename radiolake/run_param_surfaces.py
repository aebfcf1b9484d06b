"""The run parameters' surfaces, generated from their one declaration (radiolake.run_params): Airflow Params
for the DAG forms, typer options for the CLI commands, the spark-submit argv, and the docs table.

Nothing here declares a parameter, a default or a bound: a new parameter goes into run_params.PARAMS and the
surfaces that show it into run_params.SURFACES; tests/unit/test_run_param_surfaces.py checks each surface
against the declaration and that every parameter is reachable wherever it applies.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from radiolake.run_params import (
    BY_NAME,
    PARAMS,
    REQUIRED,
    SURFACES,
    VARIANTS,
    CrossmatchParams,
    RunParamError,
    Surface,
    param,
)


def airflow_params(surface: Surface | Iterable[str]) -> dict[str, Any]:
    """Airflow `Param`s of a DAG's form: a surface's parameters (with its variants), or the named ones as
    declared. Null-able parameters get a null-able type, so the form does not mark them required (Airflow
    imported lazily: this module is also used without it)."""
    from airflow.sdk import Param

    if isinstance(surface, str):
        declared = [param(name, surface) for name in SURFACES[surface]]
    else:
        declared = [BY_NAME[name] for name in surface]
    out = {}
    for p in declared:
        extra = {"title": p.title} if p.title else {}
        out[p.name] = Param(p.default, **p.schema(), **extra, description=p.help)
    return out


def cli_options(surface: Surface) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a typer command so it takes the surface's parameters as options (`--radius-arcsec` ...),
    declared here rather than in its signature. The command receives them, unchecked, as one dict
    `run_params` (check them with check_values / CrossmatchParams, so bad values fail in one place with
    RunParamError); its other parameters (command-only options such as --master) stay as they are."""
    import typer

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "run_params"]
        names = SURFACES[surface]
        generated = []
        for name in names:
            p = param(name, surface)
            optional = p.default is None or p.nullable
            annotation = Annotated[p.type | None if optional else p.type, typer.Option(help=p.help)]
            default = inspect.Parameter.empty if p.default is REQUIRED else p.default
            generated.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                               annotation=annotation))

        def wrapper(**kwargs: Any) -> Any:
            run_params = {name: kwargs.pop(name) for name in names}
            return command(run_params=run_params, **kwargs)

        wrapper.__name__, wrapper.__doc__, wrapper.__module__ = command.__name__, command.__doc__, command.__module__
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*generated, *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own)])
        return wrapper

    return decorate


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def spark_parser(description: str | None = None) -> argparse.ArgumentParser:
    """The spark-submit job's argument parser: one option per `spark` parameter, its type and default."""
    parser = argparse.ArgumentParser(description=description)
    for name in SURFACES["spark"]:
        p = param(name, "spark")
        if p.type is bool:  # `--only-new` / `--no-only-new`: argparse's type=bool would read "False" as true
            parser.add_argument(_flag(name), action=argparse.BooleanOptionalAction, default=p.default, help=p.help)
        elif p.default is REQUIRED:
            parser.add_argument(_flag(name), type=p.type, required=True, help=p.help)
        else:
            parser.add_argument(_flag(name), type=p.type, default=p.default, help=p.help)
    return parser


def parse_spark_argv(argv: list[str] | None, description: str | None = None) -> CrossmatchParams:
    """The spark-submit job's arguments, checked; a bad one exits as argparse does (status 2), naming it."""
    parser = spark_parser(description)
    values = vars(parser.parse_args(argv))
    try:
        return CrossmatchParams.from_values("spark", values)
    except RunParamError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def spark_argv(values: CrossmatchParams | Mapping[str, Any]) -> list[str]:
    """The spark-submit arguments that run `values` (unset ones left out: the job's default is unset too)."""
    if isinstance(values, CrossmatchParams):
        values = {name: getattr(values, name) for name in SURFACES["spark"]}
    unknown = sorted(set(values) - set(SURFACES["spark"]))
    if unknown:
        raise RunParamError(f"not a spark-submit parameter: {', '.join(unknown)}")
    argv: list[str] = []
    for name in SURFACES["spark"]:
        value = values.get(name)
        if isinstance(value, bool):
            argv.append(_flag(name) if value else "--no-" + name.replace("_", "-"))
        elif value is not None:
            argv += [_flag(name), str(value)]
    return argv


def _default_text(value: Any) -> str:
    if value is REQUIRED:
        return "required"
    if value is None:
        return "empty"
    return f"`{value}`"


def markdown_table() -> str:
    """docs/configuration.md's parameter table (a unit test keeps the page equal to it). A surface's own
    default or bounds (VARIANTS) follow the declared ones, named by the surface."""
    lines = ["| parameter | type | default | bounds | stage | surfaces | help |",
             "|---|---|---|---|---|---|---|"]
    for p in PARAMS:
        defaults, bounds = [_default_text(p.default)], [p.bounds() or "-"]
        for surface, changes in VARIANTS.items():
            change = changes.get(p.name, {})
            if "default" in change:
                defaults.append(f"{surface}: {_default_text(change['default'])}")
            if set(change) - {"default"}:
                bounds.append(f"{surface}: {param(p.name, surface).bounds()}")
        surfaces = ", ".join(s for s, names in SURFACES.items() if p.name in names)
        type_name = p.type.__name__ + (" or empty" if p.nullable else "")
        cells = [f"`{p.name}`", type_name, "; ".join(defaults), "; ".join(bounds), p.stage, surfaces,
                 p.help.replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
