import os
import subprocess
import sys

from mesalib import runtime


def test_flag_is_added_once_and_respects_existing_flags():
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert runtime.configure_cpu_backend(env)
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2 " + runtime.CPU_SAFE_FLAG
    runtime.configure_cpu_backend(env)
    assert env["XLA_FLAGS"].count("xla_cpu_multi_thread_eigen") == 1


def test_user_choice_is_kept():
    env = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}
    assert not runtime.configure_cpu_backend(env)
    assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"
    env = {"MESALIB_KEEP_XLA_FLAGS": "1"}
    assert not runtime.configure_cpu_backend(env) and "XLA_FLAGS" not in env


def test_importing_mesalib_sets_the_flag_before_jax_starts():
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "MESALIB_KEEP_XLA_FLAGS")}
    code = ("import mesalib, os, jax; from mesalib import runtime; assert not runtime.backend_initialized(); "
            "jax.numpy.ones(1).block_until_ready(); assert runtime.backend_initialized(); print(os.environ['XLA_FLAGS'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert runtime.CPU_SAFE_FLAG in out.stdout
    assert out.stderr.strip() == ""  # no warnings for the reader to see
