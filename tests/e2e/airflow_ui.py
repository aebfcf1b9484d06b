"""Helpers that drive the Airflow 3 UI (a React app) the way a user does, for the browser e2e tests.

Generic on purpose (dag_id and params are arguments): the same steps drive the ingest DAGs now and the
full pipeline DAG later. Everything a user *does* goes through the UI (login, the Trigger form, Clear);
waiting for a run to finish uses the REST API, which is what the UI itself polls.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from radiolake.app.airflow_client import AirflowClient

#: Generous UI timeouts (ms): the api-server shares 2 cores with the scheduler, Spark and other tests.
UI_TIMEOUT_MS = 60_000


class UiError(AssertionError):
    """The UI did not do what a user would expect; the message says which step, with a screenshot path."""


def login(page: Page, url: str, user: str, password: str) -> None:
    """Sign in through the simple auth manager's login form and wait for the app to load."""
    home_nav = page.get_by_role("link", name=re.compile("Dags", re.I)).first
    for attempt in (1, 2):  # on a loaded machine the first load of the app can stall: reload once
        page.goto(url.rstrip("/") + "/", wait_until="domcontentloaded")
        try:
            # Pages share the browser profile: an earlier test may already have signed in.
            page.get_by_label("Username").or_(home_nav).first.wait_for(timeout=UI_TIMEOUT_MS)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    if not page.get_by_label("Username").is_visible():
        expect(home_nav).to_be_visible(timeout=UI_TIMEOUT_MS)
        return
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/auth/login" not in u, timeout=UI_TIMEOUT_MS)
    # The home page's navigation appears once the React app holds a valid token.
    expect(page.get_by_role("link", name=re.compile("Dags", re.I)).first).to_be_visible(timeout=UI_TIMEOUT_MS)


def open_dag(page: Page, url: str, dag_id: str) -> None:
    page.goto(f"{url.rstrip('/')}/dags/{dag_id}", wait_until="domcontentloaded")
    expect(page.get_by_text(dag_id).first).to_be_visible(timeout=UI_TIMEOUT_MS)


def _param_input(dialog: Locator, name: str) -> Locator:
    """The form widget of a DAG Param: the UI names each input `element_<param>`."""
    return dialog.locator(f'[name="element_{name}"]')


def _fill_param(dialog: Locator, name: str, value: Any) -> None:
    field = _param_input(dialog, name)
    if field.count() == 0:
        raise UiError(f"the Trigger form has no field for param {name!r}")
    if isinstance(value, bool):
        field.set_checked(value)
        return
    text = "" if value is None else (json.dumps(value) if isinstance(value, dict | list) else str(value))
    field.fill(text)
    field.blur()  # number inputs commit their value on blur


def trigger_with_form(page: Page, url: str, dag_id: str, params: Mapping[str, Any],
                      screenshot: Callable[[str], Path] | None = None) -> str:
    """Open the DAG page, click Trigger, fill the Params form, submit; return the new run's id.

    The run id is read from the UI's own POST to `/api/v2/dags/<dag_id>/dagRuns` (the response the React
    app gets), so the test waits on exactly the run this form created."""
    open_dag(page, url, dag_id)
    page.get_by_role("button", name="Trigger Dag").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Run Parameters")).to_be_visible(timeout=UI_TIMEOUT_MS)
    for name, value in params.items():
        _fill_param(dialog, name, value)
    if screenshot:
        screenshot("trigger-form-filled")
    submit = dialog.get_by_role("button", name="Trigger", exact=True)
    try:
        expect(submit).to_be_enabled(timeout=UI_TIMEOUT_MS // 3)
    except AssertionError as exc:
        empty = [f.get_attribute("name").removeprefix("element_")
                 for f in dialog.locator('[name^="element_"][required]').all() if not f.input_value()]
        raise UiError(f"the Trigger button of {dag_id} stays disabled; required Params left empty: {empty} "
                      "(a Param whose type excludes null is required by the form)") from exc
    with page.expect_response(
        lambda r: r.request.method == "POST" and re.search(rf"/api/v2/dags/{re.escape(dag_id)}/dagRuns$", r.url)
        is not None,
        timeout=UI_TIMEOUT_MS,
    ) as resp_info:
        submit.click()
    resp = resp_info.value
    if not resp.ok:
        raise UiError(f"the UI's trigger of {dag_id} was refused ({resp.status}): {resp.text()}")
    run_id = resp.json()["dag_run_id"]
    expect(dialog).to_be_hidden(timeout=UI_TIMEOUT_MS)
    return run_id


def ensure_unpaused(client: AirflowClient, dag_id: str) -> None:
    """New DAGs may start paused; a paused DAG queues the run forever. Housekeeping, so REST, not the UI."""
    with _api(client) as api:
        resp = api.patch(f"/dags/{dag_id}", json={"is_paused": False})
        resp.raise_for_status()


def wait_for_run_state(client: AirflowClient, dag_id: str, run_id: str, states: set[str] | None = None,
                       timeout: float = 300.0, poll: float = 2.0) -> str:
    """Poll the REST API until the run reaches one of `states` (default: success or failed)."""
    states = states or {"success", "failed"}
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        state = client.run_state(dag_id, run_id)
        if state in states:
            return state
        time.sleep(poll)
    raise TimeoutError(f"run {run_id} of {dag_id} still {state!r} after {timeout:.0f} s (wanted {states})")


def wait_for_task_state(client: AirflowClient, dag_id: str, run_id: str, task_id: str, states: set[str],
                        timeout: float = 300.0, poll: float = 2.0, min_try: int = 0) -> str:
    """Poll until the task instance is in one of `states` on try `min_try` or later (a cleared task's new
    try, not the old failed one still visible for a moment)."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        ti = task_instance(client, dag_id, run_id, task_id)
        state = ti["state"]
        if state in states and ti["try_number"] >= min_try:
            return state
        time.sleep(poll)
    raise TimeoutError(f"task {task_id} of run {run_id} still {state!r} after {timeout:.0f} s (wanted {states})")


def show_run(page: Page, url: str, dag_id: str, run_id: str, rows: int | None = None) -> None:
    """Open the run's page (grid + details), e.g. to screenshot its final state. `rows`: how many task instances
    its table lists on one page (the UI's default is [api] fallback_page_limit, 50; the pipeline has more)."""
    query = f"?offset=0&limit={rows}" if rows else ""
    page.goto(f"{url.rstrip('/')}/dags/{dag_id}/runs/{run_id}{query}", wait_until="domcontentloaded")
    expect(page.get_by_text(run_id).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")


def expand_task_groups(page: Page) -> None:
    """Open every task group of the grid (the dbt group and its per-model groups): "Expand all task groups"."""
    page.get_by_role("button", name="Expand all task groups").click()
    expect(page.get_by_role("button", name="Collapse all task groups")).to_be_visible(timeout=UI_TIMEOUT_MS)


def grid_cell(page: Page, run_id: str, task_id: str) -> Locator:
    """The grid's cell of one task instance (a link holding its state badge)."""
    return page.get_by_test_id(f"grid-{run_id}-{task_id}")


def task_instance_row(page: Page, task_id: str) -> Locator:
    """The row of the run page's Task Instances table for `task_id` (its state is written out there)."""
    link = page.get_by_role("link", name=task_id, exact=True)
    return page.get_by_role("row").filter(has=link)


def show_task(page: Page, url: str, dag_id: str, run_id: str, task_id: str) -> None:
    """Open a task instance's page (its log is the default tab)."""
    page.goto(f"{url.rstrip('/')}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}", wait_until="domcontentloaded")
    expect(page.get_by_text(task_id).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")


def expect_in_task_log(page: Page, pattern: str | re.Pattern[str]) -> Locator:
    """Assert the task page's log panel shows a line matching `pattern` (what the user reads there)."""
    line = page.get_by_text(re.compile(pattern) if isinstance(pattern, str) else pattern).first
    expect(line).to_be_visible(timeout=UI_TIMEOUT_MS)
    return line


def _api(client: AirflowClient) -> httpx.Client:
    return client._client()  # the same token flow the app's client uses


def dag_run(client: AirflowClient, dag_id: str, run_id: str) -> dict:
    with _api(client) as api:
        resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        resp.raise_for_status()
        return resp.json()


def task_instance(client: AirflowClient, dag_id: str, run_id: str, task_id: str) -> dict:
    with _api(client) as api:
        resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        resp.raise_for_status()
        return resp.json()


def task_log(client: AirflowClient, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    """The task's log for one try, as plain text (structured log lines joined)."""
    with _api(client) as api:
        resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                       params={"full_content": "true"}, headers={"Accept": "application/json"})
        resp.raise_for_status()
        content = resp.json().get("content", "")
    if isinstance(content, str):
        return content
    lines = []
    for item in content:
        if isinstance(item, dict):
            extra = " ".join(f"{k}={v}" for k, v in item.items() if k not in ("event", "timestamp", "level"))
            lines.append(f"{item.get('level', '')} {item.get('event', '')} {extra}")
        else:
            lines.append(str(item))
    return "\n".join(lines)


def clear_task_in_ui(page: Page, url: str, dag_id: str, run_id: str, task_id: str,
                     screenshot: Callable[[str], Path] | None = None) -> None:
    """Open the task instance page, press Clear (the ↻ button, "Press shift+c to clear") and Confirm.

    Returns once the UI's clear request has been accepted, so the task is already reset for the scheduler."""
    show_task(page, url, dag_id, run_id, task_id)
    page.get_by_role("button", name=re.compile(r"\bclear\b", re.I)).first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"Clear Task Instance", re.I))).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(dialog.get_by_text(task_id).first).to_be_visible(timeout=UI_TIMEOUT_MS)  # the affected-tasks table
    if screenshot:
        screenshot("clear-dialog")
    confirm = dialog.get_by_role("button", name="Confirm")
    expect(confirm).to_be_enabled(timeout=UI_TIMEOUT_MS)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/api/v2/dags/{dag_id}/clearTaskInstances")
        and '"dry_run":false' in (r.request.post_data or "").replace(" ", ""),
        timeout=UI_TIMEOUT_MS,
    ) as resp_info:
        confirm.click()
    resp = resp_info.value
    if not resp.ok:
        raise UiError(f"the UI's clear of {dag_id}.{task_id} was refused ({resp.status}): {resp.text()}")
    expect(dialog).to_be_hidden(timeout=UI_TIMEOUT_MS)
