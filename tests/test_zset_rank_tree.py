"""The sorted-set rank tree (keyspace.ZSetValue) on a real LMDB environment, in process, with
a fanout of 4 so that thousands of random writes build a tree several levels deep and go
through every split, rename, merge and root change. After each step the stored tree must be
exactly consistent (every node's children and entries, one root, node sizes within bounds)
and ranks, the entry at each rank and range counts must equal a sorted Python model."""

import bisect
import random

import pytest

from kvstore import keyspace
from kvstore.config import Config
from kvstore.keyspace import Batch, Keyspace, ZSetValue, sortable_score
from kvstore.storage import Storage

FANOUT = 4


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(keyspace, "ZSET_FANOUT", FANOUT)
    storage = Storage(Config.from_argv(["--dir", str(tmp_path)]), str(tmp_path))
    txn = storage.begin_write()
    ks = Keyspace(storage, txn, Batch(storage))
    ks.begin_command(0)
    yield ks
    txn.abort()
    storage.close()


def tree_levels(z):
    """{level: [(first, children, entries)]} as stored."""
    levels = {}
    cur = z.txn.cursor(db=z.elems)
    n = len(z.chead)
    if cur.set_range(z.chead):
        for k, v in cur:
            if k[:n] != z.chead:
                break
            children, entries = keyspace._NODE.unpack(v)
            levels.setdefault(k[n], []).append((bytes(k[n + 1:]), children, entries))
    return levels


def check_tree(z, model):
    levels = tree_levels(z)
    if not model:
        assert levels == {}
        return
    top = max(levels)
    assert sorted(levels) == list(range(1, top + 1))
    assert len(levels[top]) == 1 and levels[top][0][2] == len(model)
    assert top == 1 or levels[top][0][1] >= 2, "a root with one child is dropped"
    # Level 0 is the index: one "node" per entry.
    below = [(k, 1, 1) for k in model]
    for level in range(1, top + 1):
        nodes = levels[level]
        assert nodes[0][0] == model[0], "the first node of each level starts at the smallest"
        firsts = [k for k, _, _ in below]
        for i, (first, children, entries) in enumerate(nodes):
            start = firsts.index(first)
            stop = firsts.index(nodes[i + 1][0]) if i + 1 < len(nodes) else len(below)
            assert children == stop - start, (level, i)
            assert entries == sum(e for _, _, e in below[start:stop]), (level, i)
            assert 1 <= children <= 2 * FANOUT
        below = nodes
    return top


def test_rank_tree_matches_a_sorted_model_under_random_churn(store):
    rnd = random.Random(11)
    z = ZSetValue.create(store, b"z")
    scores = {}
    model = []                      # sorted index keys
    max_top = 0
    members = [b"m%d" % i for i in range(600)]
    for step in range(6000):
        m = rnd.choice(members)
        old = scores.get(m)
        if rnd.random() < 0.6 or old is None:
            score = rnd.randint(-40, 40) / 2
            z.set(m, score, old)
            if old is not None:
                model.remove(sortable_score(old) + m)
            scores[m] = score
            bisect.insort(model, sortable_score(score) + m)
        else:
            assert z.remove(m)
            model.remove(sortable_score(old) + m)
            del scores[m]
        if step % 50 == 0 or step > 5900:
            max_top = max(max_top, check_tree(z, model) or 0)
            for k in rnd.sample(model, min(20, len(model))):
                member = k[8:]
                assert z.rank(member) == model.index(k)
                assert z.rank(member, rev=True) == len(model) - 1 - model.index(k)
            for r in rnd.sample(range(len(model)), min(20, len(model))):
                assert z.key_at_rank(r) == z.shead + model[r]
            assert z.key_at_rank(len(model)) is None
            lo, hi = sorted(rnd.randint(-45, 45) / 2 for _ in range(2))
            expected = sum(1 for k in model if lo <= keyspace.score_from_sortable(k[:8]) <= hi)
            assert z.count_between(sortable_score(lo), sortable_score(hi) + b"\xff" * 494) == \
                expected
    assert max_top >= 4, "the churn must build a tree several levels deep"
    # Shrinking it to nothing merges nodes and drops roots level by level, and leaves no node
    # behind.
    for i, m in enumerate(rnd.sample(sorted(scores), len(scores))):
        assert z.remove(m)
        model.remove(sortable_score(scores.pop(m)) + m)
        if i % 10 == 0:
            check_tree(z, model)
            if model:
                k = model[len(model) // 2]
                assert z.rank(k[8:]) == len(model) // 2
    check_tree(z, [])
    assert z.key_at_rank(0) is None
