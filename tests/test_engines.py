"""Engine layer: real servers on 127.0.0.1 (`transformers serve` on the tiny kit), measured and compared.

Lifecycle checks use a second real server, Python's http.server serving a file at /v1/models, started through
`sh` with a `sleep` grandchild in the same process group: fast, and it shows the whole group is stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from pydantic import ValidationError

from inference_lab.core.errors import UserError
from inference_lab.engines import agreement as agree
from inference_lab.engines.commands import check_vllm_cpu, launch_plan, vllm_command, vllm_max_lora_rank
from inference_lab.engines.config import SLO, LoadShape, ServerSettings
from inference_lab.engines.metrics import aggregate, distribution, meets_slo
from inference_lab.engines.openai_client import RequestResult, RequestSpec, Sampling, poisson_gaps, request_body
from inference_lab.engines.reference import greedy_ids, model_eos_ids
from inference_lab.engines.runner import build_specs, measure_server
from inference_lab.engines.server import free_loopback_port, group_alive, launched_server

PROMPTS = ["Once upon a time", "The little dog", "One day the cat"]
MAX_NEW = 16
SHARED_PGIDS: set[int] = set()  # the module-wide server: alive on purpose while other tests run


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def processes_with(marker: str) -> list[psutil.Process]:
    """Every process on the machine whose command line holds `marker` (orphans too, whoever adopted them)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if any(marker in part for part in proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def sleeper(marker: str) -> str:
    """A shell snippet starting a long-lived background grandchild that carries `marker`."""
    return f"{sys.executable} -c 'import time; time.sleep(300)' {marker} &"


@pytest.fixture
def static_server_argv(tmp_path) -> list[str]:
    """A real HTTP server answering GET /v1/models with 200, plus a long-lived grandchild in its group."""
    root = tmp_path / "www"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / "models").write_text('{"object": "list", "data": [{"id": "static", "owned_by": "test"}]}')
    return ["sh", "-c", f"{sleeper(str(root))} exec {sys.executable} -m http.server --bind 127.0.0.1 "
            f"--directory {root} " "{port}"]


@pytest.fixture(scope="module")
def served(tiny_kit):
    """`transformers serve` pinned to the tiny main model, shared by the measuring tests."""
    from inference_lab.demo_kit.build import resolve_demo_name

    path = resolve_demo_name("demo-tiny")
    run_dir = Path(os.environ["INFERENCE_LAB_HOME"]) / "engine-tests"
    settings = ServerSettings(launch="transformers")
    plan = launch_plan(settings, path, served_name=str(path), dtype="float32", run_dir=run_dir)
    with launched_server(plan.argv, log_path=run_dir / "served.log", env=plan.env, ready_timeout_s=120) as server:
        SHARED_PGIDS.add(server.pgid)
        yield server, str(path)
    assert group_gone(server.pgid)


@pytest.fixture(scope="module")
def reference(tiny_main):
    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    return {"ids": greedy_ids(model, tokenizer, PROMPTS, MAX_NEW, batch_size=1),
            "fixed": greedy_ids(model, tokenizer, PROMPTS, MAX_NEW, batch_size=1, fixed_length=True),
            "eos": model_eos_ids(model, tokenizer), "tokenizer": tokenizer}


# ---- measuring a real server ----------------------------------------------------------------------------

def test_streamed_greedy_is_timed_and_equals_in_process_generate(served, reference, tmp_path):
    server, name = served
    tokenizer = reference["tokenizer"]
    settings = ServerSettings(base_url=server.base_url, model=name, dialect="transformers")
    result = measure_server(settings, PROMPTS, model_path=name, max_new_tokens=MAX_NEW, run_dir=tmp_path,
                            shape=LoadShape(concurrency=[1, 2], warmup_requests=1), tokenizer=tokenizer,
                            reference_ids=reference["ids"], eos_ids=reference["eos"])
    assert result.status == "complete" and result.error is None
    assert [lv.concurrency for lv in result.levels] == [1, 2]
    for level in result.levels:
        assert level.aggregate["completed"] == len(PROMPTS) and len(level.warmup) == 1
        for r in level.requests:
            assert r.ok, r.error
            assert 0 < r.ttft_s <= r.e2el_s
            assert r.itl_s and all(gap >= 0 for gap in r.itl_s)
            assert sum(r.itl_s) <= r.e2el_s - r.ttft_s + 1e-6
            assert r.tpot_s == pytest.approx((r.e2el_s - r.ttft_s) / (r.output_tokens - 1))
            assert r.token_count_mismatch is False, (r.output_tokens, r.tokenizer_tokens, r.text)
            assert r.text == tokenizer.decode(reference["ids"][r.prompt_index], skip_special_tokens=True)
        agg = level.aggregate
        assert agg["itl_s"]["n"] == sum(len(r.itl_s) for r in level.requests)
        assert agg["ttft_s"]["p50"] <= agg["ttft_s"]["p99"] <= agg["ttft_s"]["max"]
    assert result.agreement["rate"] == 1.0 and result.agreement["basis"] == "re-encoded text"
    rows = (tmp_path / "engine_requests.jsonl").read_text().splitlines()
    assert len(rows) == 2 * len(PROMPTS)


def test_fixed_length_poisson_arrivals_and_goodput(served, reference, tmp_path):
    server, name = served
    settings = ServerSettings(base_url=server.base_url, model=name, dialect="transformers")
    rate, n = 20.0, 4
    shape = LoadShape(concurrency=[n], request_rate=rate, num_requests=n, warmup_requests=0, seed=7)
    result = measure_server(settings, PROMPTS, model_path=name, max_new_tokens=MAX_NEW, run_dir=tmp_path,
                            shape=shape, fixed_length=True, eos_ids=reference["eos"], slo=SLO(ttft_ms=60_000),
                            tokenizer=reference["tokenizer"], reference_ids=reference["fixed"])
    level = result.levels[0]
    assert all(r.ok and r.output_tokens == MAX_NEW for r in level.requests)
    assert result.agreement["rate"] == 1.0  # EOS suppressed on both sides the same way
    # Requests leave no earlier than their Poisson arrival times (never throttled: concurrency = n).
    arrivals = [sum(poisson_gaps(n, rate, 7)[: i + 1]) for i in range(n)]
    starts = sorted(r.start for r in level.requests)
    for arrival, start in zip(arrivals, starts):
        assert start - starts[0] >= arrival - arrivals[0] - 1e-3
    agg = level.aggregate
    assert agg["goodput"] == pytest.approx(agg["request_throughput"])  # a generous SLO: every request is good


def test_chat_endpoint_applies_the_chat_template_like_in_process(served, tiny_main, tmp_path):
    server, name = served
    model, tokenizer = tiny_main.model, tiny_main.tokenizer
    question = "generate short bed time story containing word dog and sausage"
    formatted = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                              tokenize=False)
    expected = tokenizer.decode(greedy_ids(model, tokenizer, [formatted], MAX_NEW)[0], skip_special_tokens=True)
    settings = ServerSettings(base_url=server.base_url, model=name, endpoint="chat")
    result = measure_server(settings, [question], model_path=name, max_new_tokens=MAX_NEW, run_dir=tmp_path,
                            shape=LoadShape(warmup_requests=0))
    (request,) = result.levels[0].requests
    assert request.ok and request.ttft_s is not None and request.text == expected


def test_missing_api_key_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(UserError, match=r"^server.api_key_env: environment variable NO_SUCH_KEY_VAR is not set$"):
        measure_server(ServerSettings(base_url="http://127.0.0.1:9", api_key_env="NO_SUCH_KEY_VAR"), ["x"],
                       model_path="m", max_new_tokens=4, run_dir=tmp_path)


def test_wrong_model_name_is_one_line(served, tmp_path):
    server, _ = served
    settings = ServerSettings(base_url=server.base_url, model="no-such-model")
    with pytest.raises(UserError) as err:
        measure_server(settings, PROMPTS[:1], model_path=None, max_new_tokens=4, run_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message and "no-such-model" in message and message.startswith("server.model:")


def test_unreachable_base_url_is_one_line(tmp_path):
    port = free_loopback_port()  # nothing listens there
    with pytest.raises(UserError) as err:
        measure_server(ServerSettings(base_url=f"http://127.0.0.1:{port}/v1"), PROMPTS[:1], model_path="m",
                       max_new_tokens=4, run_dir=tmp_path)
    assert "\n" not in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    assert str(err.value).startswith("server.base_url: cannot reach")


def test_server_that_dies_mid_run_keeps_results(tiny_kit, tmp_path):
    """Kill the launched server while a level streams: status failed, finished requests kept, no traceback."""
    from inference_lab.demo_kit.build import resolve_demo_name

    path = resolve_demo_name("demo-tiny")
    log = tmp_path / "server.log"
    killed: list[int] = []

    def kill_after_second_request() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and log.read_text(errors="replace").count("POST /v1/completions") >= 2:
                for proc in processes_with("transformers.cli.transformers"):  # the one writing this test's log
                    if proc.pid not in SHARED_PGIDS and any(f.path == str(log) for f in proc.open_files()):
                        os.killpg(proc.pid, signal.SIGKILL)
                        killed.append(proc.pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_after_second_request, daemon=True)
    killer.start()
    result = measure_server(ServerSettings(launch="transformers", ready_timeout_s=120), PROMPTS, model_path=path,
                            max_new_tokens=48, run_dir=tmp_path, dtype="float32", fixed_length=True,
                            shape=LoadShape(concurrency=[1, 1], num_requests=12, warmup_requests=0))
    killer.join()
    assert result.status == "failed" and "exited with code -9" in result.error and "\n" not in result.error
    requests = result.levels[0].requests
    assert len(result.levels) == 1  # no level after the death
    assert any(r.ok for r in requests) and any(not r.ok for r in requests)
    assert all(r.error is None or "\n" not in r.error for r in requests)
    assert len(killed) == 1 and group_gone(killed[0])


# ---- process lifecycle ------------------------------------------------------------------------------------

def test_group_stopped_after_block_and_after_exception(static_server_argv, tmp_path):
    marker = str(tmp_path / "www")
    with launched_server(static_server_argv, log_path=tmp_path / "a.log", ready_timeout_s=30) as server:
        assert httpx.get(server.base_url + "/v1/models").status_code == 200
        pgid = server.pgid
        assert {_pgid(p.pid) for p in processes_with(marker)} == {pgid}  # server and grandchild, one group
        assert len(processes_with(marker)) == 2
    assert group_gone(pgid) and not processes_with(marker)

    with pytest.raises(RuntimeError, match="injected"), \
            launched_server(static_server_argv, log_path=tmp_path / "b.log", ready_timeout_s=30) as server:
        pgid = server.pgid
        raise RuntimeError("injected")
    assert group_gone(pgid) and not processes_with(marker)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def serving_child(argv: list[str], tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A separate process (the tool's stand-in) that launches the server and waits; returns it and the group."""
    pgid_file = tmp_path / "pgid"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from inference_lab.engines.server import launched_server
        with launched_server({argv!r}, log_path={str(tmp_path / 'c.log')!r}, ready_timeout_s=30) as s:
            open({str(pgid_file)!r}, "w").write(str(s.pgid))
            time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not pgid_file.exists() or not pgid_file.read_text():
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return child, int(pgid_file.read_text())


def test_sigterm_to_the_parent_stops_the_server(static_server_argv, tmp_path):
    child, pgid = serving_child(static_server_argv, tmp_path)
    assert group_alive(pgid)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    assert group_gone(pgid) and not processes_with(str(tmp_path / "www"))


def test_kill_9_of_the_tool_still_stops_the_server(static_server_argv, tmp_path):
    """No code of the tool runs after SIGKILL: the watchdog sees its pipe close and stops the whole group."""
    child, pgid = serving_child(static_server_argv, tmp_path)
    assert group_alive(pgid) and len([p for p in processes_with(str(tmp_path / "www")) if p.pid != child.pid]) == 2
    child.kill()
    assert child.wait(timeout=10) == -signal.SIGKILL
    # the group's processes are orphans now, adopted by whatever init this machine has (which may leave the
    # leader a zombie a while): what counts is that none of them still runs
    deadline = time.monotonic() + 30
    while processes_with(str(tmp_path / "www")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_with(str(tmp_path / "www"))


def test_server_of_an_abandoned_context_is_stopped_at_exit(static_server_argv, tmp_path):
    """A context entered and abandoned (no __exit__) is still stopped when the interpreter exits normally
    (the atexit hook, or the generator's own finally when it is collected first)."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from inference_lab.engines.server import launched_server
        server = launched_server({static_server_argv!r}, log_path={str(tmp_path / 'f.log')!r}).__enter__()
        print(server.pgid)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert group_gone(int(done.stdout.strip())) and not processes_with(str(tmp_path / "www"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_measurement_stops_the_server(tiny_kit, tmp_path, signum):
    """SIGTERM or Ctrl-C while requests stream (inside asyncio): the child exits, its server group with it."""
    from inference_lab.demo_kit.build import resolve_demo_name

    log = tmp_path / "server.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from inference_lab.engines.config import LoadShape, ServerSettings
        from inference_lab.engines.runner import measure_server
        measure_server(ServerSettings(launch="transformers"), ["Once upon a time"],
                       model_path={str(resolve_demo_name("demo-tiny"))!r}, max_new_tokens=64, fixed_length=True,
                       run_dir={str(tmp_path)!r}, dtype="float32",
                       shape=LoadShape(concurrency=[1], num_requests=10_000, warmup_requests=0))
    """)
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 90
    while not (log.exists() and log.read_text(errors="replace").count("POST /v1/completions") >= 3):
        assert child.poll() is None and time.monotonic() < deadline, "no request streamed"
        time.sleep(0.05)
    servers = [p for p in processes_with("transformers.cli.transformers")
               if any(f.path == str(log) for f in p.open_files())]
    assert len(servers) == 1
    child.send_signal(signum)
    code = child.wait(timeout=60)
    # SIGTERM becomes SystemExit(143); an unhandled KeyboardInterrupt ends Python by re-raising SIGINT
    assert code == (128 + signal.SIGTERM if signum == signal.SIGTERM else -signal.SIGINT), code
    assert group_gone(servers[0].pid)


def test_launch_command_that_exits_is_one_line(tmp_path):
    marker = str(tmp_path)
    settings = ServerSettings(launch=["sh", "-c", f"{sleeper(marker)} echo 'boom: bad flag'; exit 3", "{port}"])
    with pytest.raises(UserError) as err:
        measure_server(settings, PROMPTS[:1], model_path="m", max_new_tokens=4, run_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message and "exited with code 3" in message and "boom: bad flag" in message
    assert not processes_with(marker)  # its background child went with it


def test_server_never_ready_times_out_and_is_stopped(tmp_path):
    marker = str(tmp_path)
    argv = ["sh", "-c", f"{sleeper(marker)} exec sleep 300", "{port}"]
    before = time.monotonic()
    with pytest.raises(UserError, match=r"^server.ready_timeout_s: .* not ready after 1 s"), \
            launched_server(argv, log_path=tmp_path / "d.log", ready_timeout_s=1):
        pass
    assert time.monotonic() - before < 20
    assert not processes_with(marker)


def test_missing_program_is_one_line(tmp_path):
    with pytest.raises(UserError, match="cannot start 'no-such-server-binary'"), \
            launched_server(["no-such-server-binary", "{port}"], log_path=tmp_path / "e.log"):
        pass


# ---- config, commands, pure parts ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, fragment", [
    ({}, "give base_url"),
    ({"base_url": "http://127.0.0.1:1", "launch": "vllm"}, "not both"),
    ({"launch": ["python", "serve.py"]}, "{port}"),
    ({"launch": ["srv", "--host", "0.0.0.0", "--port", "{port}"]}, "must bind 127.0.0.1"),
    ({"launch": ["srv", "--host=0.0.0.0", "--port", "{port}"]}, "must bind 127.0.0.1"),
    ({"launch": "transformers", "tensor_parallel_size": 2}, "launch: vllm only"),
    ({"base_url": "127.0.0.1:8000"}, "http://"),
])
def test_settings_reject_bad_input(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        ServerSettings(**kwargs)


def test_settings_accept_and_normalise():
    assert ServerSettings(base_url="http://127.0.0.1:8000/v1/").base_url == "http://127.0.0.1:8000"
    assert ServerSettings(launch=["srv", "--host", "127.0.0.1", "--port", "{port}"]).launched
    with pytest.raises(ValidationError):
        LoadShape(concurrency=[0])


def test_vllm_command_passes_parallelism_adapters_and_refuses_missing_gpus(tiny_kit, tmp_path):
    settings = ServerSettings(launch="vllm", max_model_len=256, tensor_parallel_size=2, pipeline_parallel_size=2)
    with pytest.raises(UserError, match=r"= 4 needs 4 GPUs; 0 visible") as err:
        vllm_command(settings, tiny_kit / "main", served_name="demo", python="/x/python")
    assert "\n" not in str(err.value)
    parallel = vllm_command(settings, tiny_kit / "main", served_name="demo", python="/x/python", gpus=4).argv
    assert parallel[parallel.index("--tensor-parallel-size") + 1] == "2"
    assert parallel[parallel.index("--pipeline-parallel-size") + 1] == "2"
    plain = ServerSettings(launch="vllm", max_model_len=256, extra_args=["--seed", "1"])
    with pytest.raises(UserError, match=r"^server.launch: vLLM on CPU cannot run attention head size 16 of "):
        vllm_command(plain, tiny_kit / "main", served_name="demo", python="/x/python")  # before a slow start
    check_vllm_cpu(tiny_kit / "main", gpus=1)  # GPU attention backends take it
    hd32 = tmp_path / "hd32"
    hd32.mkdir()
    (hd32 / "config.json").write_text('{"hidden_size": 64, "num_attention_heads": 2}')
    plan = vllm_command(plain, hd32, served_name="demo", dtype="float32",
                        adapters={"demo-lora": tiny_kit / "lora"}, python="/x/python")
    argv = plan.argv
    assert argv[:3] == ["/x/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "{port}"
    assert argv[argv.index("--max-model-len") + 1] == "256" and argv[argv.index("--dtype") + 1] == "float32"
    assert argv[argv.index("--lora-modules") + 1] == f"demo-lora={tiny_kit / 'lora'}"
    assert argv[argv.index("--max-lora-rank") + 1] == "8" and argv[-2:] == ["--seed", "1"]
    assert "--tensor-parallel-size" not in argv and plan.env["VLLM_CPU_KVCACHE_SPACE"]
    assert [vllm_max_lora_rank([r]) for r in (4, 8, 12, 64)] == [8, 8, 16, 64]


def test_request_bodies_per_dialect():
    spec = RequestSpec(0, 0, "m", "hi")
    fixed = Sampling(max_tokens=8, fixed_length=True, eos_token_ids=(0,))
    vllm = request_body(spec, fixed, endpoint="completions", dialect="vllm")
    assert vllm["ignore_eos"] and vllm["min_tokens"] == 8 and vllm["return_token_ids"]
    assert vllm["add_special_tokens"] is False and vllm["stream_options"] == {"include_usage": True}
    hf = request_body(spec, fixed, endpoint="completions", dialect="transformers")
    assert "ignore_eos" not in hf and '"min_new_tokens": 8' in hf["generation_config"]
    chat = request_body(spec, Sampling(max_tokens=8), endpoint="chat", dialect="openai")
    assert chat["messages"] == [{"role": "user", "content": "hi"}] and "prompt" not in chat


def _result(i, ttft, e2el, tokens, itl=(), ok=True):
    r = RequestResult(index=i, prompt_index=0, model="m", start=float(i), ttft_s=ttft, itl_s=list(itl),
                      e2el_s=e2el, output_tokens=tokens, error=None if ok else "boom")
    if ok and tokens and tokens > 1:
        r.tpot_s = (e2el - ttft) / (tokens - 1)
    return r


def test_aggregate_follows_vllm_definitions():
    results = [_result(0, 0.1, 1.1, 11, itl=[0.1] * 10), _result(1, 0.3, 0.3, 1),
               _result(2, 0.2, 2.2, 11, itl=[0.2] * 10), _result(3, None, None, None, ok=False)]
    agg = aggregate(results, wall_s=2.0, slo_limits_s={"ttft_s": 0.25, "tpot_s": 0.15})
    assert (agg["completed"], agg["failed"], agg["output_tokens"]) == (3, 1, 23)
    assert agg["request_throughput"] == 1.5 and agg["output_throughput"] == 11.5
    assert agg["tpot_s"]["n"] == 2  # one-token requests have no TPOT ...
    assert agg["goodput"] == 0.5  # ... but count as TPOT 0 for the SLO; only request 0 meets both limits
    assert agg["itl_s"]["n"] == 20 and agg["ttft_s"]["n"] == 3
    assert meets_slo(results[1], {"tpot_s": 0.001}) and not meets_slo(results[3], {})
    dist = distribution([float(v) for v in range(1, 101)])
    assert dist["p50"] == dist["median"] == 50.5 and dist["p99"] == pytest.approx(99.01)


def test_agreement_rows():
    out = agree.compare([[1, 2, 3], [1, 2, 3], [1, 2], [5]], [[1, 2, 3], [1, 9, 3], [1, 2, 3], None])
    assert out["exact"] == 1 and out["rate"] == 0.25
    rows = out["rows"]
    assert rows[0]["exact"] and rows[0]["first_divergence"] is None
    assert rows[1]["first_divergence"] == 1 and rows[1]["candidate_context"] == "1 9 3"
    assert rows[2]["first_divergence"] == 2  # the reference stopped, the candidate went on
    assert rows[3]["exact"] is False
    assert agree.strip_eos([4, 5, 0, 7], {0}) == [4, 5]


def test_build_specs_meets_every_model_and_poisson_is_seeded():
    specs = build_specs(["a", "b"], ["base", "lora"], 4)
    assert {(s.prompt_index, s.model) for s in specs} == {(0, "base"), (1, "lora"), (0, "lora"), (1, "base")}
    gaps = poisson_gaps(2000, 10.0, seed=3)
    assert gaps == poisson_gaps(2000, 10.0, seed=3) and sum(gaps) / len(gaps) == pytest.approx(0.1, rel=0.1)
    assert poisson_gaps(3, None, 0) == [0.0, 0.0, 0.0]
