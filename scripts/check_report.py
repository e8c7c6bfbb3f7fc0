"""Check a `codecbench report` folder in a real headless Chromium (Debian's `chromium`): every page loads from
disk with no console errors, every audio element reaches a playable state, every image renders with a
non-zero size (the pages' own self-check, read back from the DOM); a screenshot of index.html is taken.

    python scripts/check_report.py REPORT_DIR [--screenshot FILE]

Exit 0 when every page passes, 1 otherwise, 77 when no Chromium is installed (skip).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
         "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0"]


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def check_page(exe: str, page: Path, timeout: float = 90.0) -> tuple[dict, list[str]]:
    """The page's self-check result and its console errors."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000",
                               "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=timeout)
    found = re.search(r"<pre id=\"selfcheck\">(.*?)</pre>", proc.stdout, re.S)
    try:
        result = json.loads(found.group(1)) if found else {"error": "no self-check in the DOM"}
    except json.JSONDecodeError:
        result = {"error": f"self-check did not finish: {found.group(1)[:80] if found else ''}"}
    errors = [line for line in proc.stderr.splitlines()
              if "CONSOLE" in line and ("Uncaught" in line or "error" in line.lower())]
    return result, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report")
    parser.add_argument("--screenshot", default=None, help="PNG of index.html (default REPORT/screenshot.png)")
    args = parser.parse_args()
    exe = browser()
    if exe is None:
        print("SKIP: no Chromium here (apt-get install chromium)")
        return 77
    root = Path(args.report)
    failed = 0
    for page in sorted(root.glob("*.html")):
        result, errors = check_page(exe, page)
        ok = (not errors and "error" not in result and result.get("audio_playable") == result.get("audio")
              and result.get("images_bad") == 0)
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {page.name}: {result}" + (f" console errors: {errors}" if errors else ""))
    shot = Path(args.screenshot) if args.screenshot else root / "screenshot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1800",
                        f"--screenshot={shot.resolve()}", (root / "index.html").resolve().as_uri()],
                       capture_output=True, text=True, timeout=90)
    if not shot.is_file() or shot.stat().st_size == 0:
        print("FAIL: no screenshot")
        failed += 1
    else:
        print(f"screenshot: {shot} ({shot.stat().st_size / 1e3:.0f} kB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
