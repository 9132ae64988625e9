"""Run many run.py invocations in one process (the imports are paid once).

Usage: python driver.py CASES.json RESULTS.json, where CASES.json is a list of
{"name", "argv": [...], "env": {...}}. Each case calls run.py's Hydra main with its argv, as a
user's `python run.py ARGV` would, and records the exit code and what went to stderr/stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    report = Path(sys.argv[2]).resolve()
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import runpy

    from hydra.core.global_hydra import GlobalHydra

    out = []
    for case in cases:
        saved = {k: os.environ.get(k) for k in case.get("env", {})}
        os.environ.update(case.get("env", {}))
        err, std = io.StringIO(), io.StringIO()
        sys.argv = ["run.py", *case["argv"]]
        code = 0
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            try:
                runpy.run_path(str(ROOT / "run.py"), run_name="__main__")
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException as e:  # noqa: BLE001 - recorded as a crash
                import traceback

                traceback.print_exc(file=err)
                code = f"crash: {type(e).__name__}"
        GlobalHydra.instance().clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        out.append(
            {"name": case["name"], "code": code, "stderr": err.getvalue(), "stdout": std.getvalue()}
        )
    report.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
