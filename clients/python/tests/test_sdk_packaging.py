"""The package installs offline with pip, ships py.typed, and keeps to Python 3.9 syntax."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile

from support import REPO

PKG = os.path.join(REPO, "clients", "python")


def test_pip_installs_it_offline_with_py_typed() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Build from a copy, so the source tree gets no build/ or egg-info.
        src = os.path.join(tmp, "src")
        shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
        site = os.path.join(tmp, "site")
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation"]
        res = subprocess.run(
            cmd + ["--target", site, src], capture_output=True, text=True, timeout=120, env={**os.environ, "PIP_NO_CACHE_DIR": "1"}
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert os.path.isfile(os.path.join(site, "taskwire", "py.typed"))
        check = (
            "import taskwire, sys; print(taskwire.__file__); print(taskwire.__version__); "
            "from taskwire import Taskwire, AsyncTaskwire, create_token, TaskwireError"
        )
        out = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {site!r}); {check}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        path, version = out.stdout.split()
        assert path.startswith(site) and version == "0.1.0"


def test_sources_parse_as_python_3_9() -> None:
    root = os.path.join(PKG, "src", "taskwire")
    names = sorted(n for n in os.listdir(root) if n.endswith(".py"))
    assert {"client.py", "errors.py", "tokens.py", "handle.py", "async_client.py"} <= set(names)
    for name in names:
        with open(os.path.join(root, name), encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source, name, feature_version=(3, 9))
        assert "from __future__ import annotations" in source, name
        # Annotations are strings (the future import), but these run: no `X | Y` in them on 3.9.
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp):
                assert not isinstance(node.value.op, ast.BitOr), f"{name}:{node.lineno}: a runtime `|` union"
