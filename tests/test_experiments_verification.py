"""The interface of Chapter 5's experiment module: its key split, its sizes and its config checks."""
import mesalib  # noqa: F401
import jax
import numpy as np
import pytest

from mesalib import train, verify
from mesalib.experiments import verification as chapter


def test_every_section_gets_its_own_key():
    k = chapter.keys(jax.random.key(0))
    data = np.stack([jax.random.key_data(x) for x in k])
    assert len({tuple(row) for row in data}) == len(chapter.Keys._fields)
    with pytest.raises(ValueError, match="key"):
        chapter.keys(0)


def test_sizes():
    book, test, full, smoke = chapter.Config(), chapter.Config().test(), chapter.Config().full(), chapter.Config().smoke()
    assert test.ladder.eps_grid == (0.2, 0.3) and test.policy == book.policy
    assert set(test.ladder.eps_grid) <= set(book.ladder.eps_grid) <= set(full.ladder.eps_grid)
    assert full.ladder.n_test == 2 * book.ladder.n_test
    assert smoke.ladder.n_test < book.ladder.n_test and smoke.policy.fit.steps < book.policy.fit.steps
    assert book.policy.fit == train.POLICY_FIT


@pytest.mark.parametrize("config,name", [
    (chapter.Config(ladder=chapter.LadderConfig(n_test=1)), "n_test"),
    (chapter.Config(ladder=chapter.LadderConfig(eps_grid=(0.1, -0.2))), r"eps_grid\[1\]"),
    (chapter.Config(ladder=chapter.LadderConfig(example_point=100)), "example_point"),
    (chapter.Config(ladder=chapter.LadderConfig(fit=train.FitConfig(steps=0))), "config.steps"),
    (chapter.Config(policy=chapter.PolicyConfig(deltas=())), "deltas"),
    (chapter.Config(policy=chapter.PolicyConfig(probe_layer=3)), "probe_layer"),
    (chapter.Config(policy=chapter.PolicyConfig(radius=0)), "radius"),
    (chapter.Config(policy=chapter.PolicyConfig(synthesis_rounds=0)), "synthesis_rounds"),
    (chapter.Config(ladder=chapter.LadderConfig(seed_networks=1)), "seed_networks"),
    (chapter.Config(ladder=chapter.LadderConfig(seed_eps=())), "seed_eps"),
    (chapter.Config(ladder=chapter.LadderConfig(z3_stride=0)), "z3_stride"),
    (chapter.Config(ladder=chapter.LadderConfig(ibp_fit=verify.IBPFitConfig(eps=-1.0))), "config.eps"),
    (chapter.LadderConfig(), "config must be a verification.Config"),
])
def test_bad_configs_name_the_parameter(config, name):
    with pytest.raises(ValueError, match=name):
        chapter.run_policy(jax.random.key(0), config)


def test_smoke_mode_runs_the_smoke_size(monkeypatch):
    monkeypatch.setenv("MESALIB_SMOKE", "1")
    network = chapter.run_network(jax.random.key(0), chapter.Config())
    assert network.x_test.shape == (chapter.Config().smoke().ladder.n_test, 2)
    assert network.losses.shape == (train.SMOKE_STEPS,)
