import json

import pytest

from inference_lab.core.errors import UserError
from inference_lab.core.storage import append_jsonl, read_jsonl, repair_torn_tail, write_json_atomic


def test_append_and_read_round_trip(tmp_path):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, [{"id": 1}, {"id": 2}])
    append_jsonl(path, [{"id": 3, "text": "é"}])
    rows, torn = read_jsonl(path)
    assert [r["id"] for r in rows] == [1, 2, 3] and rows[2]["text"] == "é"
    assert torn is False


def test_torn_last_line_is_not_a_result_and_is_repaired(tmp_path):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, [{"id": 1}])
    with path.open("a") as f:
        f.write('{"id": 2, "te')
    rows, torn = read_jsonl(path)
    assert [r["id"] for r in rows] == [1] and torn
    assert repair_torn_tail(path)
    append_jsonl(path, [{"id": 2}])
    assert [r["id"] for r in read_jsonl(path)[0]] == [1, 2]


def test_complete_json_without_newline_counts_as_torn(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}')
    rows, torn = read_jsonl(path)
    assert [r["id"] for r in rows] == [1] and torn


def test_malformed_middle_line_names_line_number(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 3}\n')
    with pytest.raises(UserError, match=r"r.jsonl:2: malformed JSON line"):
        read_jsonl(path)


def test_atomic_json_write_replaces_whole_file(tmp_path):
    path = tmp_path / "s.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": 2})
    assert json.loads(path.read_text()) == {"b": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
