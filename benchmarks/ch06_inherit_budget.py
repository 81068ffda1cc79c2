"""Chapter 6, Demonstration 3 at a larger budget: run_inherit with the given alphas, PPO
iterations and seed, e.g. `PYTHONPATH=. python benchmarks/ch06_inherit_budget.py 0.0,0.5 200 0`.
Output of that command: ch06_inherit_budget.log (2-core CPU under load from other processes).
"""
import time, sys, jax, numpy as np
from mesalib.experiments import corrigibility as c
from mesalib import ppo
cfg = c.InheritConfig(alphas=tuple(float(a) for a in sys.argv[1].split(",")), ppo=ppo.PPOConfig(num_updates=int(sys.argv[2])))
t=time.time()
r = c.run_inherit(jax.random.key(int(sys.argv[3])), cfg)
print("time", time.time()-t)
import pandas as pd; pd.set_option("display.width", 200)
print(c.inherit_table(r).round(2).to_string())
print("home on path frac", r.home_on_path_deploy.mean())
