"""Persistence across passes: site histories, the minimum-detections rule and field feedback.

The paper's experts trust fringes seen at several different times. Which detections (features of the scenes'
site layers) are one *site*, and the id it carries, is decided in one place for every product:
``scanner.core.site_identity`` (polygons intersect or ids are equal; the earliest detection names the site;
every member ``site_id`` is kept in ``member_ids`` so feedback given under any of them still applies). A
site's history lists the passes (scenes) that detected it with their dates, and ``n_passes`` counts distinct
scenes.

The history is rebuilt from the store's current site layers on every run, so it is idempotent and crash-safe
by construction: a superseded pass's detections vanish with its replaced site layer, and re-running a run
gives the same file. It lives in ``STORE/history/sites.json`` (no timestamps, deterministic order).

Feedback (``fringescan review`` and the review desk of ``fringescan view``) lives in
``STORE/history/feedback.json``: per reviewed id the verdict (``confirmed``/``rejected``/``unsure``), note, time, and the site's geometry, ``area_m2`` and ``prob_max`` at review time.
A rejected site is suppressed from reports unless it *changed markedly* since: its ``area_m2`` or
``prob_max`` grew by more than 50 % (``MARKED_CHANGE``). An ``unsure`` site is reported like an unreviewed one
and is not exported as a training label (``LABEL_VERDICTS``).

Both files are written atomically (``scanner.io.writers.write_json``: temporary file in the same folder, fsync,
``os.replace``) and read with ``scanner.io.readers.read_json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shapely.geometry import mapping, shape
from shapely.ops import unary_union

from scanner.core.site_identity import Site, sites_from_layers
from scanner.errors import UsageError, problem
from scanner.io.layout import StoreLayout
from scanner.io.readers import read_json
from scanner.io.site_layers import site_layers
from scanner.io.writers import write_json

SCHEMA_VERSION = 1
MARKED_CHANGE = 0.5
VERDICTS = ("confirmed", "rejected", "unsure")
LABEL_VERDICTS = ("confirmed", "rejected")
"""The verdicts ``export_labels`` turns into training labels; ``unsure`` is a note to look again, not a label."""


def write_state(path: Path, data: Any) -> None:
    """Write a state file (``sites.json``, ``feedback.json``, nightly's ledger and reports) atomically:
    indent 1, sorted keys, so a re-run gives the same bytes."""
    write_json(path, data, indent=1, sort_keys=True, allow_nan=True)


# ---------------------------------------------------------------------------------------------- sites


def summarize_site(site: Site) -> dict:
    """The history record of one site (JSON-ready, deterministic)."""
    group = site.detections
    dates = sorted(d.second_date for d in group if d.second_date)
    outline = unary_union([shape(d.geometry) for d in group])
    return {
        "site_id": site.site_id,
        "member_ids": site.member_ids,
        "n_passes": len(site.scene_ids),
        "scene_ids": site.scene_ids,
        "first_seen": dates[0] if dates else None,
        "last_seen": dates[-1] if dates else None,
        "area_m2": max(d.area_m2 for d in group),
        "prob_max": max(d.prob_max for d in group),
        "centroid_lon": round(outline.centroid.x, 7),
        "centroid_lat": round(outline.centroid.y, 7),
        "geometry": mapping(outline),
        "detections": [d.to_json() for d in group],
    }


def build_history(layers: Mapping[str, Mapping]) -> dict:
    """The whole site history from the current site layers."""
    sites = [summarize_site(site) for site in sites_from_layers(layers)]
    return {"schema_version": SCHEMA_VERSION, "sites": sites}


def load_history(root: str | Path) -> dict:
    return read_json(StoreLayout(root).history_sites, {"schema_version": SCHEMA_VERSION, "sites": []})


def save_history(root: str | Path, history: dict) -> None:
    write_state(StoreLayout(root).history_sites, history)


def new_site_ids(before: dict, after: dict) -> list[str]:
    """Ids of sites in ``after`` none of whose member ids was known in ``before``."""
    known = {m for s in before.get("sites", []) for m in s["member_ids"]}
    return [s["site_id"] for s in after.get("sites", []) if not known.intersection(s["member_ids"])]


# ---------------------------------------------------------------------------------------------- feedback


def load_feedback(root: str | Path) -> dict[str, dict]:
    return read_json(StoreLayout(root).history_feedback, {})


def find_site(history: dict, site_id: str) -> dict | None:
    """The history site known under ``site_id`` (its own id or any member id)."""
    return next((s for s in history.get("sites", []) if site_id in s["member_ids"]), None)


def record_feedback(root: str | Path, site_id: str, verdict: str, note: str = "") -> dict:
    """Store an expert's verdict on a site; returns the record.

    The site is looked up in the saved history (``nightly`` keeps it), else in the history of the store's current
    site layers, so a store built with ``detect`` alone can be reviewed too; the saved history is not changed
    here (nightly's "new sites" stay relative to its own previous run)."""
    if verdict not in VERDICTS:
        raise UsageError(
            problem(
                "verdict",
                expected=f"one of {VERDICTS}",
                found=repr(verdict),
                fix="use --confirmed, --rejected or --unsure",
            )
        )
    site = find_site(load_history(root), site_id) or find_site(build_history(site_layers(root)), site_id)
    if site is None:
        raise UsageError(
            problem(
                f"site {site_id}",
                expected="a site id from the history",
                found="no such site",
                fix="list sites with `fringescan status --store STORE --sites`",
            )
        )
    record = {
        "site_id": site["site_id"],
        "verdict": verdict,
        "note": note,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "area_m2": site["area_m2"],
        "prob_max": site["prob_max"],
        "n_passes": site["n_passes"],
        "geometry": site["geometry"],
    }
    feedback = load_feedback(root)
    feedback[site["site_id"]] = record
    write_state(StoreLayout(root).history_feedback, feedback)
    return record


def verdict_for(site: dict, feedback: Mapping[str, dict]) -> dict | None:
    """The feedback given on this site under any of its member ids (the latest one)."""
    records = [feedback[m] for m in site["member_ids"] if m in feedback]
    return max(records, key=lambda r: r["time"]) if records else None


def changed_markedly(site: dict, record: Mapping) -> bool:
    """True when area or peak probability grew by more than ``MARKED_CHANGE`` since the review."""
    return any(site[k] > (1.0 + MARKED_CHANGE) * float(record[k]) for k in ("area_m2", "prob_max"))


def report_sites(history: dict, feedback: Mapping[str, dict], *, min_detections: int = 1) -> list[dict]:
    """Sites to report: seen in at least ``min_detections`` passes, rejected ones only if changed markedly."""
    if min_detections < 1:
        raise UsageError(problem("min_detections", expected=">= 1", found=str(min_detections), fix="e.g. 2"))
    out = []
    for site in history.get("sites", []):
        record = verdict_for(site, feedback)
        if site["n_passes"] < min_detections:
            continue
        if record and record["verdict"] == "rejected" and not changed_markedly(site, record):
            continue
        out.append({**site, "verdict": record["verdict"] if record else None})
    return out


def export_labels(feedback: Mapping[str, dict]) -> dict:
    """Reviewed sites as a WGS84 GeoJSON FeatureCollection of training labels for ``scanner.io.labels``:
    ``class`` ``confirmed`` (a positive, landslide candidate) or ``rejected`` (a negative), ``label`` 1 or 0
    to match, and the verdict, note, review time, area and number of passes. ``unsure`` verdicts are left out."""
    features = [
        {
            "type": "Feature",
            "geometry": r["geometry"],
            "properties": {
                "site_id": r["site_id"],
                "class": "confirmed" if r["verdict"] == "confirmed" else "rejected",
                "verdict": r["verdict"],
                "label": 1 if r["verdict"] == "confirmed" else 0,
                "note": r["note"],
                "reviewed": r["time"],
                "area_m2": r["area_m2"],
                "n_passes": r["n_passes"],
            },
        }
        for r in sorted(feedback.values(), key=lambda r: r["site_id"])
        if r["verdict"] in LABEL_VERDICTS
    ]
    return {"type": "FeatureCollection", "features": features}
