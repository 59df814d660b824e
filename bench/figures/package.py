"""4. Deployment package size: the built function zipped the way ``sam package`` zips it.

The build output (``.aws-sam/build/ApiFunction``, copied into the workspace, with the
``.pyc`` files the build precompiles, as SAM zips it) is deflated in memory with
:mod:`zipfile` at the default level, as SAM CLI does. The baseline is the hello-pt
package as ``sam build`` ships it: the same dependencies (``aws-lambda-powertools[tracer]``
at the same pin), no bytecode, and the baseline ``app.py`` in place of our source files.
Ours without its ``.pyc`` is zipped too, to show what the bytecode adds. Compressed bytes
are attributed to top-level entries (a package, a module or a ``*.dist-info`` folder).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.figures.common import Workspace, fmt_ratio, ratio, say

LAMBDA_ZIP_LIMIT_MB = 50  # direct upload; SAM uploads through S3
LAMBDA_UNZIPPED_LIMIT_MB = 250  # function plus layers, unzipped


def _files(root: Path) -> Iterator[tuple[Path, str]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path, path.relative_to(root).as_posix()


@dataclass
class ZipFigures:
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    by_entry: dict[str, int]  # top-level entry -> compressed bytes (with headers)

    def as_json(self) -> dict[str, Any]:
        return {
            "zipped_bytes": self.zipped_bytes,
            "unzipped_bytes": self.unzipped_bytes,
            "files": self.files,
            "by_entry": self.by_entry,
        }


def zip_figures(members: list[tuple[Path, str]]) -> ZipFigures:
    buffer = io.BytesIO()
    by_entry: dict[str, int] = defaultdict(int)
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, arcname in members:
            archive.write(path, arcname)
            unzipped += path.stat().st_size
        for info in archive.infolist():
            top = info.filename.split("/", 1)[0]
            # local header (30 + name) + data + central directory entry (46 + name)
            by_entry[top] += info.compress_size + 76 + 2 * len(info.filename.encode())
    ordered = dict(sorted(by_entry.items(), key=lambda kv: kv[1], reverse=True))
    return ZipFigures(len(buffer.getvalue()), unzipped, len(members), ordered)


@dataclass
class PackageResult:
    ours: ZipFigures
    baseline: ZipFigures
    ours_nopyc: ZipFigures

    @property
    def ratio(self) -> float:
        return ratio(self.ours.zipped_bytes, self.baseline.zipped_bytes)

    def without(self, entry_prefix: str) -> int:
        """Zipped bytes of our package without the entries starting with ``entry_prefix``."""
        return self.ours.zipped_bytes - sum(
            size for name, size in self.ours.by_entry.items() if name.startswith(entry_prefix)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ours": self.ours.as_json(),
            "baseline": self.baseline.as_json(),
            "ours_nopyc": self.ours_nopyc.as_json(),
            "ratio": self.ratio,
            "ratio_nopyc": ratio(self.ours_nopyc.zipped_bytes, self.baseline.zipped_bytes),
            "ours_without_botocore_bytes": self.without("botocore"),
        }


def run(ws: Workspace) -> PackageResult:
    say("package: zipping the built function (ours and the hello-pt-equivalent baseline)")
    ours = zip_figures(list(_files(ws.code)))
    baseline = zip_figures(list(_files(ws.baseline)))
    ours_nopyc = zip_figures(list(_files(ws.nopyc)))
    result = PackageResult(ours, baseline, ours_nopyc)
    say(
        f"package: ours {ours.zipped_bytes / 1e6:.2f} MB zipped ({ours_nopyc.zipped_bytes / 1e6:.2f}"
        f" MB without .pyc), baseline {baseline.zipped_bytes / 1e6:.2f} MB, ratio "
        f"{fmt_ratio(result.ratio)}"
    )
    return result
