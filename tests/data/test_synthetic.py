import pytest
import torch

from attnkit.data.synthetic import TASKS, make_batch


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("seq_len", [15, 16, 64, 512])
def test_answer_sits_distance_back(task, seq_len):
    b = make_batch(task, 6, seq_len, torch.Generator().manual_seed(3))
    assert b.ids.shape == b.targets.shape == b.distance.shape == (6, seq_len)
    assert int(b.ids.min()) >= 0 and int(b.ids.max()) < TASKS[task][1]
    asked = (b.targets >= 0).nonzero().tolist()
    assert asked, "every batch asks something"
    assert ((b.targets >= 0) == (b.distance >= 0)).all()
    for r, t in asked:
        d = int(b.distance[r, t])
        assert 1 <= d <= t
        assert int(b.ids[r, t - d]) == int(b.targets[r, t])  # the answer token, d positions back


def test_recall_keys_unique_and_each_asked_once():
    b = make_batch("recall", 4, 128, torch.Generator().manual_seed(0))
    for r in range(4):
        keys = b.ids[r, 0:8:2]
        assert len(set(keys.tolist())) == 4  # P = min(4, T/4) distinct keys
        asked_keys = b.ids[r][b.targets[r] >= 0]
        assert sorted(asked_keys.tolist()) == sorted(keys.tolist())


def test_copy_repeats_the_first_half():
    b = make_batch("copy", 2, 16, torch.Generator().manual_seed(0))
    assert torch.equal(b.ids[:, 1:8], b.ids[:, 9:16])
    assert (b.distance[b.distance >= 0] == 7).all()
    assert int((b.targets >= 0).sum()) == 2 * 7


def test_seeded_batches_repeat():
    a = make_batch("induction", 8, 32, torch.Generator().manual_seed(5))
    b = make_batch("induction", 8, 32, torch.Generator().manual_seed(5))
    assert torch.equal(a.ids, b.ids) and torch.equal(a.targets, b.targets)


def test_bad_task_and_length_name_the_problem():
    g = torch.Generator()
    with pytest.raises(ValueError, match=r"unknown synthetic task 'sort'.*copy"):
        make_batch("sort", 2, 16, g)
    with pytest.raises(ValueError, match=r"seq_len >= 4"):
        make_batch("recall", 2, 3, g)
