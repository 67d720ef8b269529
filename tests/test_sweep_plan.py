"""Sweep planning and trade-off arithmetic, pure: expansion, ids, errors, figures from a headline, Pareto front,
knee, SLO, placement."""

from __future__ import annotations

import json
import sys

import pytest

from inference_lab.core.config import apply_overrides, validate_config
from inference_lab.core.errors import UserError
from inference_lab.modes import MODES
from inference_lab.sweep.curve import Figure, SweepRow, curve_points, item_figures, summary_rows
from inference_lab.sweep.executor import slot_env, worker_slots
from inference_lab.sweep.pareto import Constraint, best_under, knee, pareto_front, parse_slo
from inference_lab.sweep.plan import apply_values, expand, parse_spec, point_id, split_sweep
from inference_lab.sweep.point import demo_names, point_command, precheck
from inference_lab.sweep.runner import changed_keys

from .conftest import REPO

# --- expansion ------------------------------------------------------------------------------------------------


def test_grid_times_zip_times_repeats_in_plan_order():
    base = {"max_new_tokens": 8, "inference": {"chunk_size": 4, "batch_size": 2}}
    sweep = {"grid": {"batch_size": [1, 2], "methods_to_test": [["standard"], ["batched"]]},
             "zip": [{"inference.chunk_size": [8, 16, 32], "max_new_tokens": [4, 8, 16]}], "repeats": 2}
    points = expand(base, sweep)
    assert len(points) == 2 * 2 * 3 * 2 == parse_spec(sweep).size()
    assert parse_spec(sweep).shape() == ("2 batch_size x 2 methods_to_test x 3 inference.chunk_size+max_new_tokens"
                                         " x 2 repeats")
    # Repeats are the outer loop: the whole grid once, then again.
    assert [p.repeat for p in points] == [0] * 12 + [1] * 12
    first = points[0]
    assert first.values == {"batch_size": 1, "methods_to_test": ["standard"], "inference.chunk_size": 8,
                            "max_new_tokens": 4}
    # Zip groups advance together: chunk 16 always comes with 8 new tokens.
    pairs = {(p.values["inference.chunk_size"], p.values["max_new_tokens"]) for p in points}
    assert pairs == {(8, 4), (16, 8), (32, 16)}
    # Inside a zip group one list may repeat a value, as long as the rows differ.
    assert len(expand({}, {"zip": [{"batch_size": [1, 2, 4], "num_runs": [1, 9, 1]}]})) == 3
    # Dotted keys land in their section; the section's other keys stay.
    assert first.config["inference"] == {"chunk_size": 8, "batch_size": 2}
    assert first.config["max_new_tokens"] == 4 and first.config["methods_to_test"] == ["standard"]
    assert base == {"max_new_tokens": 8, "inference": {"chunk_size": 4, "batch_size": 2}}  # untouched
    assert first.label == "batch_size=1,methods_to_test=standard,inference.chunk_size=8,max_new_tokens=4,repeat=1"
    assert len({p.id for p in points}) == len(points)


def test_point_ids_are_stable_hashes_of_values_and_repeat():
    a = expand({}, {"grid": {"x": [1, 2], "y": ["a"]}})
    b = expand({}, {"grid": {"y": ["a"], "x": [1, 2]}})  # same points, keys in another order
    assert {p.id for p in a} == {p.id for p in b}
    assert point_id({"x": 1, "y": "a"}, 0) == point_id({"y": "a", "x": 1}, 0) != point_id({"x": 1, "y": "a"}, 1)
    assert [p.id for p in expand({"other": 1}, {"grid": {"x": [1, 2], "y": ["a"]}})] == [p.id for p in a]


def test_point_values_mean_the_same_as_set_overrides():
    base = {"batch_size": 4, "inference": {"chunk_size": 2}}
    values = {"batch_size": 8, "inference.chunk_size": 16, "methods_to_test": ["batched"], "note": "4"}
    by_set = apply_overrides(base, ["batch_size=8", "inference.chunk_size=16", 'methods_to_test=["batched"]',
                                    'note="4"'])
    assert apply_values(base, values) == by_set
    assert by_set["note"] == "4"  # a string that looks like a number stays a string


def test_set_reaches_the_sweep_block():
    data = apply_overrides({"batch_size": 4, "sweep": {"grid": {"batch_size": [1, 2, 4, 8]}}},
                           ["sweep.grid.batch_size=[1,2]", "sweep.repeats=3"])
    base, spec = split_sweep(data)
    assert "sweep" not in base and spec.grid == {"batch_size": [1, 2]} and spec.repeats == 3
    assert len(expand(base, spec)) == 6


@pytest.mark.parametrize(("block", "message"), [
    ({"grid": {"batch_size": []}}, "sweep.grid.batch_size: empty list"),
    ({"grid": {"batch_size": [1, 2, 1]}}, "sweep.grid.batch_size: value 1 is listed twice"),
    ({"zip": [{"a": [1, 2], "b": [1]}]}, "sweep.zip[0]: lists must have equal lengths (a has 2, b has 1)"),
    ({"zip": [{}]}, "sweep.zip[0]: empty group"),
    ({"zip": [{"a": [1, 2, 1], "b": [3, 4, 3]}]}, 'sweep.zip[0]: row {"a":1,"b":3} is listed twice'),
    ({"grid": {"a": [1]}, "zip": [{"a": [2]}]}, "key 'a' is swept twice"),
    ({"zip": [{"a": [1]}, {"a": [2]}]}, "key 'a' is swept twice"),
    ({"grid": {"inference": [{}], "inference.chunk_size": [1]}}, "keys 'inference' and 'inference.chunk_size' overlap"),
    ({"grid": {"sweep.repeats": [1, 2]}}, "a sweep cannot sweep itself"),
    ({"grid": {"a..b": [1]}}, "not a key path"),
    ({}, "nothing to sweep"),
    ({"grid": {"batch_size": 4}}, "field 'sweep.grid.batch_size': Input should be a valid list"),
    ({"grd": {"batch_size": [1]}}, "unknown key 'sweep.grd'; did you mean 'grid'?"),
    ({"grid": {"a": [1]}, "repeats": 0}, "field 'sweep.repeats'"),
    ([1, 2], "field 'sweep'"),
])
def test_bad_sweep_blocks_are_one_line_errors(block, message):
    with pytest.raises(UserError) as err:
        split_sweep({"batch_size": 1, "sweep": block}, "c.json")
    text = str(err.value)
    assert message in text and text.startswith("c.json: ") and "\n" not in text


def test_repeats_alone_is_a_sweep():
    points = expand({"x": 1}, {"repeats": 3})
    assert [p.repeat for p in points] == [0, 1, 2] and len({p.id for p in points}) == 3
    assert [p.label for p in points] == ["repeat=1", "repeat=2", "repeat=3"]


def test_presets_expand_to_valid_points_of_their_mode():
    config_class = MODES["methods"].config_class
    expected = {"sweep-batch": 11, "sweep-gpu": 8, "real-gpu": 4}
    for name, size in expected.items():
        base, spec = split_sweep(json.loads((REPO / "configs" / f"{name}.json").read_text()), name)
        points = expand(base, spec)
        assert len(points) == spec.size() == size, name
        for p in points:  # each point is a config its mode accepts, with the swept value applied
            config = validate_config(config_class, p.config, f"{name} {p.label}")
            for key, value in p.values.items():
                head, _, tail = key.partition(".")
                assert (getattr(getattr(config, head), tail) if tail else getattr(config, head)) == value
    batch = expand(*split_sweep(json.loads((REPO / "configs" / "sweep-batch.json").read_text())))
    combos = {(p.values["methods_to_test"][0], p.values["batch_size"]) for p in batch}
    assert combos == {("standard", 1)} | {(m, b) for m in ("batched", "compiled") for b in (1, 2, 4, 8, 16)}


# --- the point contract (generic over modes: the modes table says everything) ---------------------------------


def test_point_command_is_the_mode_cli_headless():
    assert point_command("lora", "p.json", "out") == [sys.executable, "-m", "inference_lab", "lora", "p.json",
                                                      "--output", "out", "--quiet", "--yes"]


def test_points_are_checked_by_their_mode_config_class():
    assert precheck("methods", {"batch_size": 2}) is None
    assert "field 'batch_size'" in precheck("methods", {"batch_size": 0}, "point x")
    assert precheck("methods", {"batch_size": 0}, "point x").startswith("point x: ")
    assert "unknown key 'adapterr'" in precheck("lora", {"adapterr": "x"})
    # Demo kit names come from each mode's own named_models()/named_files(), each once; invalid points add none.
    assert demo_names("methods", [{"main_model": "demo-tiny", "methods_to_test": ["batched"]},
                                  {"main_model": "demo-tiny", "methods_to_test": ["batched_speculative"],
                                   "assistant_model": "demo-tiny-assistant"},
                                  {"main_model": "never-built", "batch_size": 0}]) == ["demo-tiny",
                                                                                      "demo-tiny-assistant"]


def test_figures_come_from_the_mode_headline():
    summary = {"methods": [
        {"method": "batched", "status": "ok",
         "per_round": {"completion_tokens_per_s": [100.0, 110.0, 90.0], "latency_s": [0.2, 0.21, 0.19],
                       "ttft_s": [0.02, 0.03, 0.025], "tpot_s": [0.01, 0.01, 0.01],
                       "peak_rss_bytes": [2**30, 2**31, 2**30], "peak_gpu_bytes": [2**20, 3 * 2**20, 2**20]}},
        {"method": "beam_search", "status": "failed", "per_round": {}}]}
    base = SweepRow("p1", "batch_size=4", 0, "ok", values={"batch_size": 4})
    ok, failed = summary_rows(base, "methods", summary)
    assert (ok.item, ok.item_status, ok.tokens_per_s.median, ok.latency_ms.median) == ("batched", "ok", 100.0, 200.0)
    assert ok.tokens_per_s.low is not None and ok.tokens_per_s.low <= 100.0 <= ok.tokens_per_s.high
    assert ok.ttft_ms.median == pytest.approx(25.0) and ok.tpot_ms.median == pytest.approx(10.0)
    assert ok.memory_mib.median == 3.0  # GPU where measured (its peak), not RSS
    assert (failed.item, failed.item_status, failed.tokens_per_s, failed.latency_ms) == ("beam_search", "failed",
                                                                                          None, None)
    # A mode whose headline has a rate and no latency (lora: accuracy and tok/s) gives a throughput, no curve point.
    lora = item_figures({"accuracy": {"higher_is_better": True, "unit": "ratio", "samples": [0.9]},
                         "tokens_per_s": {"higher_is_better": True, "unit": "tok/s", "samples": [250.0]}})
    assert lora["tokens_per_s"].median == 250.0 and lora["tokens_per_s"].low is None and lora["latency_ms"] is None
    # Where no metric is called latency_s, the first lower-is-better time is (peft-bench's time per prompt).
    peft = item_figures({"inference_time_s": {"higher_is_better": False, "unit": "s", "samples": [0.5, 0.7]}})
    assert peft["latency_ms"].median == pytest.approx(600.0)


def test_resume_names_every_changed_key_but_not_where_results_go():
    old = {"max_new_tokens": 4, "output_dir": "a", "sweep": {"grid": {"batch_size": [1, 2]}}}
    new = {"max_new_tokens": 8, "output_dir": "b", "sweep": {"grid": {"batch_size": [1, 2, 4]}}}
    assert changed_keys(new, old) == ["max_new_tokens", "sweep.grid.batch_size"]
    assert changed_keys({**old, "output_dir": "elsewhere"}, old) == []


# --- Pareto front, knee, best under SLO -----------------------------------------------------------------------

def P(name, tok, lat, **more):
    return {"name": name, "tokens_per_s": tok, "latency_ms": lat, **more}


def names(items):
    return [i["name"] for i in items]


def test_pareto_front_keeps_only_undominated_points():
    points = [P("a", 100, 10), P("b", 200, 20), P("c", 150, 25), P("d", 300, 40), P("e", 90, 10),
              P("f", 300, 50), P("g", None, 5)]
    # c: b is faster and quicker. e: a ties on latency with more throughput. f: d ties on throughput, lower
    # latency. g: no throughput measured, never on the front.
    assert names(pareto_front(points)) == ["a", "b", "d"]


def test_pareto_ties_are_kept_and_dominated_duplicates_dropped():
    points = [P("a", 100, 10), P("a2", 100, 10), P("c", 50, 30), P("c2", 50, 30)]
    assert names(pareto_front(points)) == ["a", "a2"]


def test_pareto_front_generalises_to_more_objectives():
    points = [P("fast", 300, 40, memory_mib=900), P("lean", 100, 40, memory_mib=100),
              P("worse", 100, 50, memory_mib=900)]
    objectives = (("tokens_per_s", "max"), ("latency_ms", "min"), ("memory_mib", "min"))
    assert names(pareto_front(points, objectives)) == ["fast", "lean"]
    assert names(pareto_front(points)) == ["fast"]  # on two axes the lean one is dominated
    with pytest.raises(ValueError):
        pareto_front(points, (("tokens_per_s", "up"),))


def test_knee_is_where_throughput_stops_growing_as_fast_as_latency():
    front = [P("b1", 100, 10), P("b2", 190, 11), P("b4", 340, 13), P("b8", 400, 25), P("b16", 420, 60)]
    assert knee(front)["name"] == "b4"
    assert knee(list(reversed(front)))["name"] == "b4"  # order of the input does not matter


def test_no_knee_on_short_or_straight_fronts():
    assert knee([P("a", 1, 1), P("b", 2, 2)]) is None
    assert knee([P("a", 1, 1), P("b", 2, 2), P("c", 3, 3)]) is None  # a straight trade has no bend
    assert knee([P("a", 1, 1), P("b", 1.2, 5), P("c", 3, 6)]) is None  # convex: the bend is below the chord


def test_slo_parsing_and_best_under():
    slo = parse_slo("ttft_ms<=200, tpot_ms<50,memory_mib<=4000")
    assert slo == [Constraint("ttft_ms", "<=", 200), Constraint("tpot_ms", "<", 50),
                   Constraint("memory_mib", "<=", 4000)]
    points = [P("big", 900, 80, ttft_ms=250, tpot_ms=20, memory_mib=3000),
              P("mid", 600, 40, ttft_ms=150, tpot_ms=30, memory_mib=3500),
              P("mid-tie", 600, 30, ttft_ms=150, tpot_ms=30, memory_mib=3500),
              P("small", 300, 20, ttft_ms=50, tpot_ms=10, memory_mib=1000),
              P("unknown", 1000, 10, ttft_ms=None, tpot_ms=10, memory_mib=100)]
    best, meeting = best_under(points, slo)
    assert best["name"] == "mid-tie" and meeting == 3  # a tie on throughput goes to the lower latency
    assert best_under(points, parse_slo("ttft_ms<=10")) == (None, 0)
    assert best_under(points, parse_slo("tokens_per_s>=700"))[0]["name"] == "unknown"


@pytest.mark.parametrize(("text", "message"), [
    ("ttft<=200", "unknown figure 'ttft'"), ("ttft_ms=200", "cannot read 'ttft_ms=200'"),
    ("ttft_ms<=fast", "cannot read"), ("", "no constraint given"), ("ttft_ms<=1e", "is not a number"),
])
def test_bad_slo_is_a_one_line_error(text, message):
    with pytest.raises(UserError, match=message):
        parse_slo(text)


def test_repeats_merge_into_one_curve_point():
    def row(pid, repeat, tok, lat, item="batched", status="ok"):
        return SweepRow(pid, "x", repeat, "ok", item=item, item_status=status,
                        tokens_per_s=Figure(tok, tok - 1, tok + 1), latency_ms=Figure(lat, lat - 1, lat + 1),
                        values={"batch_size": 4})

    rows = [row("p1", 0, 100, 10), row("p2", 1, 120, 14), row("p3", 2, 110, 12),
            row("p1", 0, 50, 5, item="standard"), row("p4", 0, 999, 1, status="failed")]
    merged, standard = curve_points(rows)  # the failed item is on no curve, whatever its figures
    assert (merged.tokens_per_s, merged.latency_ms, merged.repeats) == (110, 12, 3)
    assert (merged.tokens_per_s_low, merged.tokens_per_s_high, merged.latency_ms_low) == (100, 120, 10)
    assert merged.point_ids == ["p1", "p2", "p3"] and merged.label == "batch_size=4 · batched"
    assert (standard.tokens_per_s, standard.tokens_per_s_low, standard.repeats) == (50, 49, 1)


# --- placement ------------------------------------------------------------------------------------------------

def test_one_worker_per_gpu_and_one_at_a_time_on_cpu():
    assert worker_slots([{"device": "auto"}], gpus=["0", "1"]) == ["cuda:0", "cuda:1"]
    assert worker_slots([{"device": "cuda"}], gpus=["3"]) == ["cuda:3"]
    assert worker_slots([{"device": "cpu"}, {"device": "cpu"}], gpus=["0", "1"]) == ["cpu"]
    assert worker_slots([{"device": "auto"}], gpus=[]) == ["cpu"]
    assert slot_env("cuda:1")["CUDA_VISIBLE_DEVICES"] == "1"
    # A point spread over all GPUs (device_map) or naming its GPU: one at a time, not re-pinned.
    assert worker_slots([{"device": "auto", "device_map": "auto"}], gpus=["0", "1"]) == ["all"]
    assert worker_slots([{"device": "cuda:1"}], gpus=["0", "1"]) == ["all"]
    # Points measuring a server share it (or launch one that may span GPUs): one at a time too.
    assert worker_slots([{"device": "auto", "engine": "openai"}], gpus=["0", "1"]) == ["all"]
    assert worker_slots([{"device": "auto", "engine": "transformers"}], gpus=["0", "1"]) == ["cuda:0", "cuda:1"]
    assert slot_env("all") == slot_env("cpu")
