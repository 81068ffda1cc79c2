import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mesalib import rl, train
from tests.helpers import assert_close, assert_shape


def test_run_scans_all_steps_in_chunks_and_stacks_metrics():
    step = lambda c: (c + 1, {"value": c})  # noqa: E731
    carry, metrics = train.run(step, jnp.zeros((3,)), 12, num_chunks=4, progress=False)
    assert_close(carry, np.full(3, 12.0))
    assert_shape(metrics["value"], (12, 3))
    assert_close(metrics["value"][:, 0], np.arange(12))


def test_chunk_size_divides_steps():
    assert train._chunk_size(12, 5) == 3      # 4 chunks of 3
    assert train._chunk_size(7, 10) == 1
    assert train._chunk_size(7, 3) == 7       # a prime count runs as one chunk


def test_run_rejects_bad_step_counts():
    with pytest.raises(ValueError, match="num_steps"):
        train.run(lambda c: (c, {}), 0.0, 0)
    with pytest.raises(ValueError, match="num_chunks"):
        train.run(lambda c: (c, {}), 0.0, 5, num_chunks=0)


def test_smoke_mode_caps_steps(monkeypatch):
    monkeypatch.setenv("MESALIB_SMOKE", "1")
    carry, metrics = train.run(lambda c: (c + 1, {"v": c}), 0, 1000, num_chunks=10, progress=False)
    assert int(carry) == train.SMOKE_STEPS and metrics["v"].shape == (train.SMOKE_STEPS,)


def np_gae(r, v, last, gamma, lam):
    T = len(r)
    adv = np.zeros(T)
    nxt_adv, nxt_v = 0.0, last
    for t in reversed(range(T)):
        delta = r[t] + gamma * nxt_v - v[t]
        nxt_adv = delta + gamma * lam * nxt_adv
        adv[t], nxt_v = nxt_adv, v[t]
    return adv


@pytest.mark.parametrize("gamma, lam", [(1.0, 0.95), (0.9, 0.5), (0.99, 1.0), (0.99, 0.0)])
def test_gae_matches_float64_reference(gamma, lam):
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=(9, 1)), rng.normal(size=(9, 1))
    adv, ret = rl.gae(jnp.asarray(r), jnp.asarray(v), jnp.asarray([0.3]), jnp.zeros((9, 1)), gamma, lam)
    assert_close(adv[:, 0], np_gae(r[:, 0], v[:, 0], 0.3, gamma, lam), atol=1e-5)
    assert_close(ret, np.asarray(adv) + v, atol=1e-5)


def test_gae_does_not_bootstrap_through_episode_end():
    r = jnp.array([[1.0], [0.0], [1.0]])
    v = jnp.zeros((3, 1))
    adv, _ = rl.gae(r, v, jnp.array([100.0]), jnp.array([[0.0], [1.0], [0.0]]), 1.0, 1.0)
    assert_close(adv[:, 0], [1.0, 0.0, 101.0])


def test_shard_seeds_is_identity_on_one_device_and_pads_to_devices():
    x = {"a": jnp.ones((4, 2))}
    assert train.shard_seeds(x)["a"].shape == (4, 2)
    assert train.pad_to_devices(5, devices=[0, 1]) == 6 and train.pad_to_devices(4, devices=[0, 1]) == 4


def counter_trainer(num_updates=5):
    def init(key, start):
        return {"x": start, "key": key}

    def update(state):
        return {"x": state["x"] + 1.0, "key": state["key"]}, {"x": state["x"]}

    return train.Trainer(init, update, num_updates)


def test_train_seeds_trains_every_seed_with_its_data_and_logs_per_update():
    trainer = counter_trainer(6)
    out = train.train_seeds(trainer, jax.random.split(jax.random.key(0), 3), jnp.array([0.0, 10.0, 20.0]))
    assert_close(out.state["x"], [6.0, 16.0, 26.0])
    assert_shape(out.metrics["x"], (6, 3))
    assert_close(out.metrics["x"][:, 1], 10.0 + np.arange(6))


def test_train_seeds_compiles_once_for_one_trainer():
    trainer = counter_trainer(4)
    keys = jax.random.split(jax.random.key(0), 2)
    train.train_seeds(trainer, keys, jnp.zeros(2))
    before = train._scan_chunk._cache_size()
    train.train_seeds(trainer, keys, jnp.ones(2))
    assert train._scan_chunk._cache_size() == before


def test_train_seeds_bad_inputs():
    with pytest.raises(ValueError, match="trainer"):
        train.train_seeds((lambda k: 0, lambda s: (s, {}), 3), jax.random.split(jax.random.key(0), 2))
    with pytest.raises(ValueError, match="keys"):
        train.train_seeds(counter_trainer(), 0, jnp.zeros(2))
    with pytest.raises(ValueError, match="leading axis of length 2"):
        train.train_seeds(counter_trainer(), jax.random.split(jax.random.key(0), 2), jnp.zeros(3))


def test_shard_seeds_refuses_an_indivisible_seed_axis():
    devices = jax.local_devices() * 2     # pretend there are two
    with pytest.raises(ValueError, match="multiple of the number of devices"):
        train.shard_seeds({"a": jnp.ones((3, 2))}, devices=devices)


@pytest.mark.timeout(300)
def test_seed_axis_is_sharded_across_two_cpu_devices(tmp_path):
    """With 2 (simulated) devices, the same training call spreads its seeds over both; an odd
    number of seeds is padded, and every seed matches a run of it alone."""
    script = textwrap.dedent("""
        import mesalib, jax, numpy as np
        from mesalib import rl2
        assert jax.local_device_count() == 2, jax.devices()
        cfg = rl2.Config(num_updates=6, batch_size=16, hidden=8)
        keys = jax.random.split(jax.random.key(0), 3)
        res = rl2.train_seeds(keys, cfg, progress=False)
        leaf = res.params["gru"]["wi"]
        assert leaf.shape[0] == 3, leaf.shape
        print("DEVICES", len(leaf.sharding.device_set))
        one = rl2.train_seeds(keys[2:], cfg, progress=False)
        np.testing.assert_allclose(np.asarray(leaf[2]), np.asarray(one.params["gru"]["wi"][0]), atol=1e-4)
        print("MATCH")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "DEVICES 2" in out.stdout and "MATCH" in out.stdout
