"""Builds the TensorFlow op into the package while building it (see pyproject.toml)."""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bindings", "tensorflow"))
import build_ops  # noqa: E402


class BuildWithOp(build_py):
    def run(self):
        super().run()
        build_ops.build(os.path.join(self.build_lib, "collective", "tensorflow"))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithOp}, distclass=BinaryDistribution,
      # Beside, not inside, CMake's build/ tree.
      options={"build": {"build_base": "build-python"}})
