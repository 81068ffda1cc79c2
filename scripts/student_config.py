"""Print _config.yml with exercise solutions hidden (for `make student-book`)."""
import pathlib
import sys

import yaml

config = yaml.safe_load((pathlib.Path(__file__).resolve().parents[1] / "_config.yml").read_text())
config["sphinx"]["config"]["hide_solutions"] = True
config["title"] = config["title"] + " (student edition)"
yaml.safe_dump(config, sys.stdout, sort_keys=False)
