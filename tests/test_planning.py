from inference_lab.modes.methods.planning import batches, flatten, per_prompt


def labels(plan):
    return [[f"p{item.prompt_index + 1}" for item in batch] for batch in plan]


def test_scenario_1_equal_completions():
    items = flatten(["elephant", "dog"], [3, 3])
    assert [[i.prompt for i in b] for b in batches(items, 4)] == [
        ["elephant", "elephant", "elephant", "dog"], ["dog", "dog"]]


def test_scenario_2_per_prompt_completions():
    items = flatten(["a", "b", "c"], [3, 2, 3])
    assert labels(batches(items, 4)) == [["p1", "p1", "p1", "p2"], ["p2", "p3", "p3", "p3"]]
    assert [i.completion_index for i in items] == [0, 1, 2, 0, 1, 0, 1, 2]


def test_scenario_3_single_prompt():
    assert labels(batches(flatten(["only"], [8]), 4)) == [["p1"] * 4, ["p1"] * 4]


def test_batch_size_one_and_per_prompt_groups():
    items = flatten(["a", "b"], [2, 1])
    assert len(batches(items, 1)) == 3
    assert labels(per_prompt(items)) == [["p1", "p1"], ["p2"]]
