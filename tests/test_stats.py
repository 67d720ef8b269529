"""The verdict machinery (issue #12): statistics on known inputs, the tie rule, ratios paired by round, the
roofline arithmetic, the busy-machine flag and `compare`'s refusal of runs that differ. Pure where it can be."""

from __future__ import annotations

import json
import math
import re
import shutil

import numpy as np
import pytest

from inference_lab.core import stats
from inference_lab.core.environment import busy_reason
from inference_lab.core.errors import UserError
from inference_lab.core.roofline import ModelShape, bytes_per_step, roofline
from inference_lab.modes.methods.results import MEMORY_MARGIN, ranking_lines, rankings

# --- summaries ----------------------------------------------------------------------------------------------------

def test_summary_of_known_values():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0, 3.5])
    assert s.n == 6 and s.median == 3.25 and s.min == 1.0 and s.max == 100.0
    assert s.mad == 1.0  # |x - 3.25| sorted: 0.25 0.25 0.75 1.25 2.25 96.75 -> median 1.0
    assert s.p90 == pytest.approx(52.0)  # numpy's linear interpolation between 4 and 100
    assert s.p90_p50 == pytest.approx(52.0 / 3.25)
    assert s.relative_mad == pytest.approx(1.0 / 3.25)
    assert s.ci_low <= s.median <= s.ci_high
    assert s.ci_low >= 1.0 and s.ci_high <= 100.0  # a median's resamples never leave the data's range


def test_few_values_get_students_t_on_the_logarithms():
    """3 values: the percentile bootstrap would give [min, max], a 75 % interval called 95 %. Student's t on the
    logs instead, by hand: logs 0, ln 2, ln 4 -> mean ln 2, sd ln 2, half-width 4.303 x ln 2 / sqrt 3."""
    low, high = stats.bootstrap_median_ci([1.0, 2.0, 4.0])
    half = 4.303 * math.log(2) / math.sqrt(3)
    assert low == pytest.approx(2 * math.exp(-half)) and high == pytest.approx(2 * math.exp(half))
    assert low < 1.0 and high > 4.0  # wider than the values themselves: 3 values say little
    # values that are not all positive: on the values themselves
    low, high = stats.bootstrap_median_ci([-1.0, 0.0, 1.0])
    assert low == pytest.approx(-4.303 / math.sqrt(3)) and high == pytest.approx(4.303 / math.sqrt(3))
    assert stats.t_quantile(1) == 12.706 and stats.t_quantile(2.9) == 4.303 and stats.t_quantile(500) == 1.96


def test_three_rounds_of_noise_name_no_winner_but_a_large_steady_difference_does():
    """The quick preset's 3 rounds: with the bootstrap, any two methods whose 3 rounds happen to fall one way were
    "separated" (a 1-in-4 chance for two equal methods); with t, 10 % of noise is a tie and 3x is a winner."""
    noise = stats.ratio([105, 98, 110], [100, 101, 99], paired=True)
    assert noise.ci_low < 1 < noise.ci_high and not noise.separated
    steady = stats.ratio([300, 310, 290], [100, 102, 98], paired=True)
    assert steady.separated and steady.ci_low > 2.5
    assert not stats.ratio([105, 106, 107], [100, 130, 70]).separated  # unpaired (Welch): the spread counts


def test_interval_is_seeded_and_narrows_with_more_data():
    rng = np.random.default_rng(7)
    few, many = rng.normal(100, 10, 8), rng.normal(100, 10, 400)
    assert stats.bootstrap_median_ci(few) == stats.bootstrap_median_ci(list(few))  # same data, same interval
    low_few, high_few = stats.bootstrap_median_ci(few)
    low_many, high_many = stats.bootstrap_median_ci(many)
    assert high_many - low_many < (high_few - low_few) / 2
    assert low_many <= float(np.median(many)) <= high_many


def test_no_interval_from_one_value_and_nothing_from_none():
    one = stats.summarize([5.0, None])
    assert one.n == 1 and one.ci_low is None and one.ci_high is None and one.stdev == 0.0
    assert stats.summarize([None]) is None
    assert stats.ratio([1.0], [2.0]).separated is False  # no interval: nothing can be separated


def test_noisy_is_a_wide_spread_relative_to_the_median():
    assert not stats.is_noisy(stats.summarize([100, 101, 99, 100, 102]))
    assert stats.is_noisy(stats.summarize([100, 60, 140, 100, 20]))  # MAD 40 = 40 % of the median
    assert not stats.is_noisy(None)


def test_wilson_interval_of_an_accuracy():
    low, high = stats.wilson_interval(26, 48)  # 54.2 %: the demo-lora's cloze accuracy
    assert low == pytest.approx(0.4029, abs=1e-4) and high == pytest.approx(0.6743, abs=1e-4)  # by hand, z = 1.96
    low, high = stats.wilson_interval(48, 48)  # 100 % still has an interval below it
    assert high == 1.0 and low == pytest.approx(0.9259, abs=1e-3)
    assert stats.wilson_interval(0, 0) is None


# --- ratios -------------------------------------------------------------------------------------------------------

def test_ratio_of_clearly_different_samples_is_separated():
    r = stats.ratio([200, 210, 190, 205, 195], [100, 105, 95, 102, 98])
    assert r.estimate == pytest.approx(2.0)
    assert r.ci_low <= r.estimate <= r.ci_high and r.separated
    change = stats.percent_change(r)
    assert change["estimate"] == pytest.approx(100.0) and change["separated"]
    assert change["ci_low"] == pytest.approx((r.ci_low - 1) * 100)


def test_overlapping_samples_are_not_separated():
    r = stats.ratio([100, 130, 90, 120, 80], [110, 95, 125, 85, 105])
    assert r.ci_low < 1 < r.ci_high and not r.separated


def test_pairing_by_round_cancels_machine_drift():
    """A is 10 % faster than B in every round, but the machine's speed drifts 3x across rounds: unpaired, the
    drift swamps the difference; paired by round (how interleaved runs are compared), it is separated."""
    drift = [1.0, 2.0, 3.0, 1.5, 2.5, 1.2, 2.8]
    b = [100 * d for d in drift]
    a = [110 * d for d in drift]
    assert not stats.ratio(a, b).separated
    paired = stats.ratio(a, b, paired=True)
    assert paired.separated and paired.ci_low == pytest.approx(1.1) and paired.ci_high == pytest.approx(1.1)
    with pytest.raises(ValueError, match="equal lengths"):
        stats.ratio(a, b[:-1], paired=True)


def test_ratio_of_sums_weighs_each_group_by_its_median():
    short, long_ = [1.0, 1.1, 0.9], [10.0, 11.0, 9.0]
    r = stats.ratio_of_sums([[2 * v for v in short], [2 * v for v in long_]], [short, long_], paired=True)
    assert r.estimate == pytest.approx(2.0) and r.separated and r.n_a == r.n_b == 6
    assert stats.ratio_of_sums([[1.0]], [[1.0], [2.0]]) is None  # groups must match


# --- the tie rule -------------------------------------------------------------------------------------------------

def test_a_winner_only_where_every_interval_excludes_equal():
    clear = stats.rank({"batched": [400, 410, 395, 405], "standard": [150, 148, 155, 152]}, "tok/s",
                       higher_is_better=True)
    assert clear.best == "batched" and clear.tied == ["batched"] and clear.reason.startswith("x2.")

    tie = stats.rank({"a": [100, 130, 90, 120, 80], "b": [110, 95, 125, 85, 105], "c": [10, 11, 9, 10, 12]},
                     "tok/s", higher_is_better=True)
    assert tie.best is None and sorted(tie.tied) == ["a", "b"] and tie.order[-1] == "c"
    assert tie.reason.startswith(f"no measurable difference between {tie.order[0]}, {tie.order[1]}; ")
    assert re.search(rf"; {tie.order[0]} x1\d\.\d\d \[\d+\.\d\d, \d+\.\d\d\] vs c$", tie.reason)  # ~11x c

    lower = stats.rank({"x": [3.0, 3.1, 2.9], "y": [1.0, 1.1, 0.9]}, "latency", higher_is_better=False)
    assert lower.best == "y"


def test_a_few_mib_of_peak_memory_is_no_winner():
    """The issue's case: "Least memory: standard" by 3 MiB of ~375 MiB. Separated by its interval, but inside the
    2 % margin that counts as equal for peak RSS."""
    mib = 2**20
    samples = {"standard": [375 * mib, 375 * mib + 1000, 375 * mib - 1000],
               "batched": [378 * mib, 378 * mib + 1000, 378 * mib - 1000]}
    assert stats.rank(samples, "rss", higher_is_better=False).best == "standard"
    within = stats.rank(samples, "rss", higher_is_better=False, margin=MEMORY_MARGIN)
    assert within.best is None and sorted(within.tied) == ["batched", "standard"]


def _method(name, tok_s, rss_mib):
    return {"method": name, "status": "ok",
            "per_round": {"completion_tokens_per_s": tok_s, "latency_s": [1 / v for v in tok_s],
                          "peak_rss_bytes": [v * 2**20 for v in rss_mib]}}


def test_methods_rankings_say_ties_in_words():
    ranked = rankings([_method("batched", [400, 420, 410], [378, 378, 378]),
                       _method("standard", [150, 160, 155], [375, 375, 375]),
                       {"method": "beam_search", "status": "failed", "per_round": {}}])
    assert ranked["completion_tokens_per_s"]["best"] == "batched"
    assert ranked["peak_rss_bytes"]["best"] is None
    lines = ranking_lines(ranked)
    assert any(line.startswith("Fastest (completion tokens/s): batched (x") for line in lines)
    assert "Least memory (peak RSS): no measurable difference between standard, batched" in lines


# --- roofline -----------------------------------------------------------------------------------------------------

def test_bytes_per_step_by_hand():
    shape = ModelShape(weight_bytes=1000, layers=2, kv_heads=2, head_dim=4, kv_dtype_bytes=4)
    assert shape.kv_bytes_per_token == 2 * 2 * 2 * 4 * 4 == 128
    # 3 rows, 10 prompt tokens, 4 new: mean context 12 tokens -> 3 x 12 x 128 bytes of KV cache read per step
    assert bytes_per_step(shape, rows=3, prompt_tokens=10, new_tokens=4) == 1000 + 3 * 12 * 128
    r = roofline(5608, tpot_s=0.001, device_bytes_per_s=1e7)
    assert r.achieved_bytes_per_s == pytest.approx(5.608e6) and r.percent == pytest.approx(56.08)
    assert roofline(5608, tpot_s=0.001, device_bytes_per_s=None).percent is None
    assert roofline(5608, tpot_s=None, device_bytes_per_s=1e7) is None


def test_model_shape_of_a_catalogue_architecture():
    """SmolLM2-135M (30 layers, 3 KV heads of 64) in float32: 46,080 bytes of KV cache per token, and its weights
    once (the tied embedding counted once), built on the meta device."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    from inference_lab.models.bandwidth import model_shape
    from inference_lab.models.catalogue import catalogue_config

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(catalogue_config("HuggingFaceTB/SmolLM2-135M"), dtype=torch.float32)
    model.tie_weights()  # as a loaded or built model is: the head shares the embedding's storage
    shape = model_shape(model)
    assert (shape.layers, shape.kv_heads, shape.head_dim, shape.kv_dtype_bytes) == (30, 3, 64, 4)
    assert shape.kv_bytes_per_token == 46_080
    assert shape.weight_bytes == sum(p.numel() for p in model.parameters()) * 4
    assert 134e6 * 4 < shape.weight_bytes < 136e6 * 4


# --- the machine ----------------------------------------------------------------------------------------------

def test_busy_machine_is_named_with_its_load():
    assert busy_reason([3.5, 2.0, 1.0], cores=2) == "machine busy: load average 3.50 > 2 cores"
    assert busy_reason([1.9, 5.0, 5.0], cores=2) is None  # the 1-minute figure decides


# --- compare ------------------------------------------------------------------------------------------------------

def _with_config_change(source, target, **changes):
    shutil.copytree(source, target)
    for name in ("run.json", "summary.json"):
        path = target / name
        data = json.loads(path.read_text())
        if "config" in data:
            data["config"].update(changes)
            path.write_text(json.dumps(data))
    return target


def test_compare_refuses_runs_with_different_settings_unless_forced(methods_run, tmp_path, capsys):
    from inference_lab.cli import main
    from inference_lab.commands.compare import compare_table
    from inference_lab.core.rundir import load_summary

    other = _with_config_change(methods_run, tmp_path / "other", max_new_tokens=99)
    with pytest.raises(UserError, match=r"config max_new_tokens: 6 vs 99.*--force"):
        compare_table([load_summary(methods_run), load_summary(other)])

    assert main(["compare", str(methods_run), str(other)]) == 2
    err = capsys.readouterr().err
    assert "max_new_tokens: 6 vs 99" in err and len(err.strip().splitlines()) == 1

    assert main(["compare", str(methods_run), str(other), "--force"]) == 0
    out = capsys.readouterr().out
    assert "FORCED" in out and "x1.00 (baseline)" in out


def test_compare_of_the_same_settings_gives_ratios_with_intervals(methods_run, tmp_path, capsys):
    from inference_lab.cli import main

    twin = _with_config_change(methods_run, tmp_path / "twin")
    assert main(["compare", str(methods_run), str(twin)]) == 0
    out = capsys.readouterr().out
    assert "FORCED" not in out
    assert re.search(r"x1\.00 \[[\d.]+-[\d.]+\] =", out)  # the same samples: ratio 1, a tie, never a winner
