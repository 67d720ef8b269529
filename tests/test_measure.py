import statistics

import numpy as np
import torch

from inference_lab.core import device as dev
from inference_lab.core.measure import PeakMemory, Stopwatch, TokenClock
from inference_lab.core.stats import percentile, summarize


def test_summarize_matches_numpy():
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    stats = summarize(values)
    assert stats.median == statistics.median(values)
    assert abs(stats.p90 - float(np.percentile(values, 90))) < 1e-12
    assert (stats.min, stats.max, stats.n) == (1.0, 9.0, 6)
    assert abs(stats.stdev - statistics.stdev(values)) < 1e-12
    assert summarize([]) is None
    assert summarize([2.0]).stdev == 0.0


def test_percentile_interpolates():
    assert percentile([0.0, 10.0], 50) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 100) == 5.0


def test_peak_memory_sees_a_transient_allocation():
    with PeakMemory("cpu") as baseline:
        pass
    with PeakMemory("cpu") as tracked:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block[::512] = 2.0
        del block
    assert tracked.peak_rss_bytes >= baseline.peak_rss_bytes + 48 * 2**20
    assert tracked.peak_gpu_bytes is None  # CPU: no accelerator figure, not a fake zero


def test_stopwatch_measures_elapsed_work():
    with Stopwatch("cpu") as watch:
        torch.randn(256, 256) @ torch.randn(256, 256)
    assert watch.seconds > 0


def test_cuda_guards_are_safe_without_cuda():
    for target in ("cpu", "cuda", None):
        dev.synchronize(target)
        dev.reset_peak_memory(target)
    if not dev.cuda_available():
        assert dev.peak_memory_bytes("cuda") is None
        assert dev.free_memory_bytes("cuda") is None
        assert dev.bf16_supported("cuda") is False
    assert isinstance(dev.device_name(), str)


def test_out_of_memory_is_recognised():
    assert dev.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert dev.is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"))
    assert dev.is_out_of_memory(MemoryError())
    assert not dev.is_out_of_memory(ValueError("out of memory"))
    assert not dev.is_out_of_memory(RuntimeError("shape mismatch"))


def test_token_clock_stamps_every_generated_token(tiny_main):
    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    clock = TokenClock("cpu")
    encoded = tokenizer(["generate short bed time story"], return_tensors="pt")
    clock.begin()
    out = model.generate(**encoded, max_new_tokens=7, min_new_tokens=7, do_sample=False, stopping_criteria=[clock],
                         pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] - encoded["input_ids"].shape[1] == 7
    assert len(clock.stamps) == 7
    assert clock.time_to_first_token > 0
    assert len(clock.inter_token_latencies) == 6 and all(gap > 0 for gap in clock.inter_token_latencies)


def test_threads_default_to_an_exported_omp_num_threads_else_the_physical_cores(monkeypatch):
    import torch

    from inference_lab.core import device as dev

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert dev.default_threads() == 3
        assert dev.apply_threads(None)["intra_op"] == 3
        assert dev.apply_threads(2)["intra_op"] == 2  # an explicit num_threads wins over the variable
        for junk in ("", "0", "two"):
            monkeypatch.setenv("OMP_NUM_THREADS", junk)
            assert dev.default_threads() == dev.physical_cores()
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert dev.default_threads() == dev.physical_cores()
    finally:
        torch.set_num_threads(before)
