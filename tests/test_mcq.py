"""MCQ scoring: token boundaries, batching against a one-by-one reference, data validation, OOM halving, CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from inference_lab.core.errors import RunFailed, UserError
from inference_lab.modes.mcq.config import MCQConfig
from inference_lab.modes.mcq.data import MCQItem, read_mcq, resolve_data_file
from inference_lab.modes.mcq.prompts import Template, build_requests
from inference_lab.modes.mcq.requests import Request, Score
from inference_lab.modes.mcq.results import ChoiceScore, best_choice, make_predictions
from inference_lab.modes.mcq.scoring import LengthSortedBatches, LoglikelihoodScorer, encode_pair, plan_rows


def reference_loglik(model, tokenizer, context: str, continuation: str) -> tuple[float, list[int], bool]:
    """The slow obvious way: one unpadded forward per (context, continuation), whole-sequence encoding."""
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    n_context = len(tokenizer(context, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logits = model(torch.tensor([whole[:-1]])).logits[0]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    targets = whole[n_context:]
    rows = logprobs[n_context - 1:len(whole) - 1]
    greedy = rows.argmax(dim=-1).tolist() == targets
    return sum(float(rows[i, t]) for i, t in enumerate(targets)), targets, greedy


def flat(requests):
    return [r for item_requests in requests for r in item_requests]


@pytest.fixture(scope="module")
def demo_items(tiny_kit):
    return read_mcq(tiny_kit / "data" / "mcq.jsonl")


# --- token boundaries -----------------------------------------------------------------------------------------

def test_letter_is_scored_as_the_spaced_token_that_is_in_the_sequence(tiny_main, demo_items):
    tok = tiny_main.tokenizer
    context = Template().prompt(demo_items[0])
    whole = tok(context + " A", add_special_tokens=False)["input_ids"]
    spaced = tok(" A", add_special_tokens=False)["input_ids"]
    bare = tok("A", add_special_tokens=False)["input_ids"]
    assert len(spaced) == 1 and spaced != bare  # the kit's tokenizer has a " A" token distinct from "A"

    context_ids, continuation_ids = encode_pair(tok, context, " A")
    assert continuation_ids == [whole[-1]] == spaced
    assert context_ids + continuation_ids == whole
    # A context ending in the space gives the same split (the space moves onto the continuation).
    assert encode_pair(tok, context + " ", "A") == (context_ids, continuation_ids)

    [score] = LoglikelihoodScorer(tiny_main.model, tok, batch_size=1).score([Request(context, " A")])
    expected, targets, _ = reference_loglik(tiny_main.model, tok, context, " A")
    assert score.token_ids == tuple(spaced) == tuple(targets)
    assert score.loglik == pytest.approx(expected, abs=1e-4)


def test_rows_are_shared_only_when_the_model_input_is_identical():
    letters = [([1, 2, 3], [10]), ([1, 2, 3], [11]), ([1, 2, 3], [12]), ([1, 2, 3], [13])]
    rows = plan_rows(letters)
    assert len(rows) == 1 and [m[0] for m in rows[0].members] == [0, 1, 2, 3]
    assert len(plan_rows(letters, share_inputs=False)) == 4
    # " C" as two tokens (space, C): its input is the context plus the space, a row of its own.
    mixed = plan_rows([([1, 2, 3], [10]), ([1, 2, 3], [20, 12]), ([1, 2, 3], [20, 13])])
    assert [r.input_ids for r in mixed] == [(1, 2, 3), (1, 2, 3, 20)]
    assert [m[0] for m in mixed[1].members] == [1, 2]
    # Truncated from the left to the model's length, the continuation kept whole.
    [truncated] = plan_rows([([1, 2, 3, 4, 5], [6, 7])], max_length=4)
    assert truncated.input_ids == (3, 4, 5, 6)


@pytest.mark.parametrize("side", ["left", "right"])
def test_scores_are_read_at_the_continuation_positions_of_each_padded_row(side):
    from inference_lab.modes.mcq.scoring import Row, gather_scores, logit_window, pad_rows

    rows = [Row((5, 6, 7, 8), [(0, (3,)), (1, (4,))]), Row((5, 6), [(2, (1, 2))])]
    ids, mask, positions = pad_rows(rows, pad_id=0, side=side)
    assert mask.tolist() == ([[1, 1, 1, 1], [0, 0, 1, 1]] if side == "left" else [[1, 1, 1, 1], [1, 1, 0, 0]])
    assert positions[mask.bool()].tolist() == [0, 1, 2, 3, 0, 1]
    keep, ends = logit_window(rows, side)
    # Fake logits over a window of `keep` positions: at full-sequence position p, token p+1 is certain.
    offset = ids.shape[1] - keep
    logits = torch.full((2, keep, 10), -30.0)
    for b, row in enumerate(rows):
        start = ids.shape[1] - len(row.input_ids) if side == "left" else 0
        for p in range(len(row.input_ids)):
            if start + p >= offset:
                logits[b, start + p - offset, p + 1] = 30.0
    scores = gather_scores(logits, rows, ends)
    # Row 0 predicts at its last position (p=3) token 4: request 1 (" 4") is greedy, request 0 (" 3") is not.
    assert scores[1].is_greedy and scores[1].loglik == pytest.approx(0.0, abs=1e-6)
    assert not scores[0].is_greedy and scores[0].loglik < -50
    # Row 1's two-token continuation (1, 2) is read at its positions 0 and 1, which predict tokens 1 and 2.
    assert scores[2].is_greedy and scores[2].token_ids == (1, 2) and scores[2].loglik == pytest.approx(0.0, abs=1e-6)


def test_batches_run_longest_first_and_results_come_back_in_order():
    batches = LengthSortedBatches([3, 7, 5, 7, 1])
    assert batches.order == [1, 3, 2, 0, 4]
    assert batches.peek(2) == [1, 3]
    batches.advance(2)
    assert batches.peek(10) == [2, 0, 4]
    assert LengthSortedBatches.restore({2: "c", 0: "a", 1: "b"}, 3) == ["a", "b", "c"]


# --- batched == per-choice reference --------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("mode", ["letters", "choices"])
def test_batched_scores_equal_one_by_one_reference(tiny_main, demo_items, side, mode):
    items = demo_items[:8]
    requests = flat(build_requests(items, mode, Template()))
    lengths = {len(tiny_main.tokenizer(r.context + r.continuation)["input_ids"]) for r in requests}
    assert len(lengths) > 3  # mixed lengths, so rows really are padded

    scorer = LoglikelihoodScorer(tiny_main.model, tiny_main.tokenizer, batch_size=5, padding_side=side)
    scores = scorer.score(requests)
    for request, score in zip(requests, scores, strict=True):
        expected, targets, greedy = reference_loglik(tiny_main.model, tiny_main.tokenizer, request.context,
                                                     request.continuation)
        assert score.token_ids == tuple(targets) and score.is_greedy == greedy
        assert score.loglik == pytest.approx(expected, abs=1e-4)
    assert scorer.forward_passes < len(requests) / 2


def byte_tokenizer():
    """Every byte its own token: " A" is two tokens (space, A), a Greek letter three."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<|pad|>", eos_token="<|endoftext|>")


def tiny_random_model(architecture: str, vocab_size: int, pad_id: int):
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    if architecture == "gpt2":  # absolute position embeddings: left padding is only right with position_ids
        config = GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=1, n_head=2, n_positions=512, pad_token_id=pad_id)
        return GPT2LMHeadModel(config).eval()
    config = Qwen3Config(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=512,
                         pad_token_id=pad_id)
    return Qwen3ForCausalLM(config).eval()


@pytest.mark.parametrize("letters, architecture", [("ABCD", "qwen3"), ("ΑΒΓΔ", "qwen3"), ("ABCD", "gpt2")])
def test_multi_token_letters(letters, architecture):
    tok = byte_tokenizer()
    model = tiny_random_model(architecture, len(tok), tok.pad_token_id)
    items = [MCQItem(f"q{i}", "Which one?" + " really" * i, ("red", "green", "blue", "sky"), i % 4) for i in range(6)]
    template = Template(letters=letters)
    requests = flat(build_requests(items, "letters", template))
    for side in ("left", "right"):
        scorer = LoglikelihoodScorer(model, tok, batch_size=4, padding_side=side)
        scores = scorer.score(requests)
        for request, score in zip(requests, scores, strict=True):
            expected, targets, _ = reference_loglik(model, tok, request.context, request.continuation)
            assert len(score.token_ids) == len((" " + request.continuation.strip()).encode()) > 1
            assert score.token_ids == tuple(targets)
            assert score.loglik == pytest.approx(expected, abs=1e-4)
        # The letters differ only in their last token, so they still share one row per question.
        assert scorer.forward_passes == math.ceil(len(items) / 4)


# --- out of memory ----------------------------------------------------------------------------------------------

def test_auto_batch_size_halves_on_out_of_memory(tiny_main, demo_items, monkeypatch):
    requests = flat(build_requests(demo_items[:6], "choices", Template()))  # 24 rows
    clean = LoglikelihoodScorer(tiny_main.model, tiny_main.tokenizer, batch_size=24).score(requests)

    original = LoglikelihoodScorer.forward
    attempts: list[int] = []

    def forward_with_small_memory(self, input_ids, *args):
        attempts.append(input_ids.shape[0])
        if input_ids.shape[0] > 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, input_ids, *args)

    monkeypatch.setattr(LoglikelihoodScorer, "forward", forward_with_small_memory)
    scorer = LoglikelihoodScorer(tiny_main.model, tiny_main.tokenizer, batch_size="auto", max_batch_size=16)
    scores = scorer.score(requests)
    assert attempts[:4] == [16, 8, 4, 2]
    assert scorer.batch_size_used == 2 and scorer.oom_retries == 3 and scorer.forward_passes == 12
    assert [s.loglik for s in scores] == pytest.approx([s.loglik for s in clean], abs=1e-4)

    with pytest.raises(RunFailed, match="out of memory"):
        LoglikelihoodScorer(tiny_main.model, tiny_main.tokenizer, batch_size=8).score(requests)


# --- choosing an answer -------------------------------------------------------------------------------------------

def test_normalisation_changes_which_choice_wins():
    short = ChoiceScore("A", "cat", loglik=-4.0, n_tokens=2, n_chars=4, is_greedy=False)
    long = ChoiceScore("B", "a very long answer", loglik=-6.0, n_tokens=6, n_chars=19, is_greedy=False)
    assert best_choice([short, long], "sum") == 0
    assert best_choice([short, long], "per_token") == 1
    assert best_choice([short, long], "per_char") == 1


def test_per_char_is_lm_evals_acc_norm_without_the_leading_space():
    """lm-eval's acc_norm divides by len(choice), the choice text alone. Here the leading space flips the pick:
    " ab" -3.0 and " abcd" -5.5 -> by the text: -3/2 = -1.500 < -5.5/4 = -1.375, so "abcd" wins; counting the
    space: -3/3 = -1.000 > -5.5/5 = -1.100, so "ab" would win (the bug this test guards against)."""
    item = MCQItem("q", "Which?", ("ab", "abcd"), answer=1)
    [requests] = build_requests([item], "choices", Template())
    assert [r.continuation for r in requests] == [" ab", " abcd"]
    scores = [Score(-3.0, (1, 2), False), Score(-5.5, (3, 4, 5), False)]
    [prediction] = make_predictions("base", [item], [requests], scores, Template(), "per_char")
    assert [c.n_chars for c in prediction.choices] == [2, 4]
    assert prediction.predicted == 1 and prediction.correct
    assert best_choice(prediction.choices, "sum") == 0  # unnormalised, the short choice wins


# --- data files -------------------------------------------------------------------------------------------------

def write_lines(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1}


def test_answers_as_index_or_letter(tmp_path):
    path = write_lines(tmp_path / "ok.jsonl", [GOOD, "", {**GOOD, "answer": "c", "subject": "math", "id": "x"}])
    first, second = read_mcq(path)
    assert (first.answer, first.id, first.subject) == (1, "line-1", None)
    assert (second.answer, second.id, second.subject) == (2, "x", "math")


@pytest.mark.parametrize("bad, message", [
    ({**GOOD, "answer": 4}, "out of range for 4 choices"),
    ({**GOOD, "answer": "E"}, '"E" is out of range for 4 choices (0-3 or A-D)'),
    ({**GOOD, "answer": 1.5}, "'answer' must be an index or a letter"),
    ({**GOOD, "choices": []}, "'choices' must be a non-empty list"),
    ({"question": "q", "choices": ["a", "b"]}, "missing key 'answer'"),
    ({**GOOD, "choices": ["a", ""]}, "choice 1 must be a non-empty string"),
    ("{not json", "Expecting property name"),
])
def test_malformed_row_is_one_error_with_its_line_number(tmp_path, bad, message):
    path = write_lines(tmp_path / "bad.jsonl", [GOOD, GOOD, bad, GOOD])
    with pytest.raises(UserError) as info:
        read_mcq(path)
    text = str(info.value)
    assert text.startswith(f"{path}:3: ") and message in text and "\n" not in text


def test_missing_data_file_names_the_field(tmp_path):
    with pytest.raises(UserError, match="test_file: file not found"):
        resolve_data_file(str(tmp_path / "nope.jsonl"))


def test_bad_bytes_name_the_line(tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"question": "\xff"}\n')
    with pytest.raises(UserError, match=r"bytes.jsonl:2: not UTF-8 text \(byte 0xff\)"):
        read_mcq(path)


# --- the whole run: demo set, base vs adapter -------------------------------------------------------------------

def test_run_scores_demo_above_chance_and_base_is_untouched_by_the_adapter(tiny_main, demo_items, tmp_path):
    from inference_lab import session
    from inference_lab.modes import MODES

    config = MCQConfig(main_model="demo", adapter="demo-lora", mode="choices", output_dir=str(tmp_path))
    outcome = session.execute(MODES["mcq"], config, label="test")
    assert outcome.exit_code == 0, outcome.error
    base, lora = outcome.summary["variants"]
    # The tiny kit's model picks the right choice text above chance (25 %); see DETAILED_GUIDE for figures.
    assert base["accuracy"] > 0.25
    assert sum(s["n"] for s in base["per_subject"].values()) == len(demo_items) == base["n_questions"]

    lines = (outcome.folder / "results.jsonl").read_text().splitlines()
    rows = [r for r in map(json.loads, lines) if r["kind"] == "prediction"]
    assert [r["variant"] for r in rows] == ["base"] * len(demo_items) + ["demo-lora"] * len(demo_items)
    base_ll = [c["loglik"] for r in rows[:len(demo_items)] for c in r["choices"]]
    lora_ll = [c["loglik"] for r in rows[len(demo_items):] for c in r["choices"]]
    # Base scores from a model that never saw the adapter (tiny_main): PEFT's in-place wrap must not leak in.
    untouched = LoglikelihoodScorer(tiny_main.model, tiny_main.tokenizer).score(
        flat(build_requests(demo_items, "choices", Template())))
    assert base_ll == pytest.approx([s.loglik for s in untouched], abs=1e-4)
    assert max(abs(a - b) for a, b in zip(base_ll, lora_ll)) > 1e-3

    summary = json.loads((outcome.folder / "summary.json").read_text())
    assert summary["variants"][0]["accuracy"] == base["accuracy"] and summary["mode"] == "mcq"
    assert set(summary["variants"][0]["accuracy_by_normalisation"]) == {"sum", "per_token", "per_char"}
    for variant in summary["variants"]:  # every accuracy with its 95 % interval over the questions
        low, high = variant["accuracy_ci"]
        assert 0.0 <= low <= variant["accuracy"] <= high <= 1.0 and high - low > 0.05
    assert summary["environment"]["packages"]["torch"]
    confusion = summary["variants"][0]["extra"]["confusion"]
    assert sum(n for row in confusion.values() for n in row.values()) == len(demo_items)
    assert "Confusion: base" in (outcome.folder / "report.html").read_text()


# --- CLI ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, fragment", [
    ({"mode": "letter"}, "field 'mode'"),
    ({"batchsize": 4}, "did you mean 'batch_size'"),
    ({"batch_size": 0}, "field 'batch_size'"),
])
def test_cli_bad_config_exits_2_with_one_line(tmp_path, capsys, content, fragment):
    from inference_lab.cli import main

    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    assert main(["mcq", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and fragment in err and "\n" not in err


def test_shipped_config_is_valid():
    from inference_lab.core.config import load_config
    from inference_lab.presets import find_config

    config = load_config(MCQConfig, find_config("mcq"))
    assert (config.main_model, config.test_file) == ("demo", "demo-mcq")


def test_choice_longer_than_the_context_is_one_line_with_its_line(tiny_main, tmp_path):
    from inference_lab.modes.mcq.runner import _scorer, check_lengths

    long_choice = " ".join(["word"] * 700)  # the tiny model's context is 512 tokens
    path = write_lines(tmp_path / "long.jsonl", [GOOD, {**GOOD, "choices": ["a", long_choice]}])
    items = read_mcq(path)
    requests = build_requests(items, "choices", Template())
    scorer = _scorer(tiny_main.model, tiny_main.tokenizer, MCQConfig())
    with pytest.raises(UserError, match=r"long.jsonl:2: choice 1 of question 'line-2' is \d+ tokens, more than"):
        check_lengths(scorer, items, requests, path)
