#!/usr/bin/python3
"""Record what each installed toolchain's version command prints, for the catalogue's
version-parsing tests (crates/catalog/tests/version-samples.toml).

Run on a machine where the toolchains are installed, after building the crate:

    cargo build -p codeexec
    /usr/bin/python3 scripts/toolchains/capture-version-samples.py

Each version command runs the way the catalogue's detection runs it (argv, clean
environment, the compiler's env); the version recorded next to the output is the one the
Rust detection found (from `codeexec toolchains list --json`), so the test checks that
the catalogue's rule still extracts it from the real output. Existing samples of
toolchains that are not installed here are kept.
"""

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog"
SAMPLES = ROOT / "crates" / "catalog" / "tests" / "version-samples.toml"
TOOL = ROOT / "target" / "debug" / "codeexec"
TOOLCHAINS = os.environ.get("CODEEXEC_TOOLCHAINS", "/opt/codeexec/toolchains")
MAX_CHARS = 1500


def toml_string(s: str) -> str:
    # A JSON string is a valid TOML basic string once non-ASCII is kept as is.
    return json.dumps(s, ensure_ascii=False)


def main() -> int:
    listing = json.loads(subprocess.run([str(TOOL), "toolchains", "list", "--json"], check=True,
                                        capture_output=True, text=True).stdout)
    versions = {row["id"]: row["detail"] for row in listing if row["installed"]}
    old = tomllib.loads(SAMPLES.read_text()) if SAMPLES.exists() else {}
    samples = dict(old)
    with tempfile.TemporaryDirectory() as home:
        for path in sorted(CATALOG.glob("*.toml")):
            lang = tomllib.loads(path.read_text())
            for c in lang["compiler"]:
                cid = c["id"]
                if cid not in versions:
                    continue
                inst = c["install"]
                own = "pip" in inst or "npm" in inst or "deb" in inst
                tdir = os.path.join(TOOLCHAINS, inst.get("dir", cid)) if own else ""
                def expand(s):
                    return s.replace("{toolchain}", tdir).replace("{source}", c["source_file"])
                argv = [expand(a) for a in c["version"]["command"]]
                env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "TMPDIR": home}
                env.update({k: expand(v) for k, v in c.get("env", {}).items()})
                out = subprocess.run(argv, env=env, cwd=home, stdin=subprocess.DEVNULL,
                                     capture_output=True, timeout=60)
                text = out.stdout.decode("utf-8", "replace")
                err = out.stderr.decode("utf-8", "replace")
                if err:
                    if text and not text.endswith("\n"):
                        text += "\n"
                    text += err
                display = " ".join(a.replace(tdir, "{toolchain}") if tdir else a for a in argv)
                samples[cid] = {"command": display, "output": text[:MAX_CHARS],
                                "version": versions[cid]}
    lines = ["# Real outputs of the catalogue's version commands, written by",
             "# scripts/toolchains/capture-version-samples.py. Each `version` is what",
             "# detection found in `output`; tests/versions.rs checks the rules still agree.", ""]
    for cid in sorted(samples):
        s = samples[cid]
        lines.append(f"[{toml_string(cid)}]")
        lines.append(f"command = {toml_string(s['command'])}")
        lines.append(f"output = {toml_string(s['output'])}")
        lines.append(f"version = {toml_string(s['version'])}")
        lines.append("")
    SAMPLES.write_text("\n".join(lines))
    print(f"{len(samples)} samples ({len(samples) - len(old)} new) in {SAMPLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
