"""Install pgTAP into the embedded server's `share/extension`.

pgTAP is pure SQL. Debian packages it per PostgreSQL major version; the SQL of any recent one works
on the embedded server, so we take whichever `postgresql-<N>-pgtap` apt knows, download it with
`apt-get download` (no root, nothing installed system-wide), unpack it with `dpkg -x` and copy the
`pgtap*` files. The .deb is cached under `.lift-db/cache` so later runs need no network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lift_db.binaries import find_install
from lift_db.errors import LiftDbError
from lift_db.project import find_project


def _candidates() -> list[str]:
    result = subprocess.run(
        ["apt-cache", "search", "--names-only", r"^postgresql-[0-9]+-pgtap$"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = re.findall(r"^(postgresql-(\d+)-pgtap)\s", result.stdout, re.MULTILINE)
    return [name for name, _ in sorted(names, key=lambda n: -int(n[1]))]


def _download(cache: Path) -> Path:
    cached = sorted(cache.glob("postgresql-*-pgtap_*.deb"))
    if cached:
        return cached[-1]
    if shutil.which("apt-get") is None:
        raise LiftDbError(
            "pgTAP is not installed and apt-get is not available to fetch it",
            "on Debian/Ubuntu run `make pgtap`; elsewhere copy pgtap.control and pgtap--*.sql "
            "into the embedded server's share/extension",
        )
    names = _candidates()
    if not names:
        raise LiftDbError(
            "apt knows no postgresql-<N>-pgtap package",
            "run `apt-get update` (as root) and try again",
        )
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["apt-get", "download", names[0]], cwd=cache, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LiftDbError(
            f"`apt-get download {names[0]}` failed: {result.stderr.strip()}",
            "check the network and apt sources, then run `make pgtap` again",
        )
    return sorted(cache.glob("postgresql-*-pgtap_*.deb"))[-1]


def main() -> int:
    try:
        install = find_install()
        if install.has_extension("pgtap"):
            print(f"pgTAP already installed in {install.extension_dir}")
            return 0
        deb = _download(find_project().state_dir / "cache")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg", "-x", str(deb), tmp], check=True)
            sources = list(Path(tmp).glob("usr/share/postgresql/*/extension/pgtap*"))
            if not sources:
                raise LiftDbError(f"{deb.name} holds no pgtap extension files")
            for src in sources:
                shutil.copy2(src, install.extension_dir / src.name)
        print(f"installed pgTAP from {deb.name} into {install.extension_dir}")
        return 0
    except LiftDbError as exc:
        print(f"install_pgtap: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
