"""Load from ``wrk`` (Debian package), for the benchmarks in this folder.

wrk is written in C: a client in Python on the same two cores spends about
as long on a small answer as the server does, which narrows every
difference between two servers and caps the rates measured.
"""
from __future__ import annotations

import re
import shutil
import subprocess

#: wrk's latency units, in milliseconds
_UNITS = {'us': 0.001, 'ms': 1.0, 's': 1000.0}


def available() -> bool:
    return shutil.which('wrk') is not None


def run(url: str, connections: int, seconds: int, threads: int = 1,
        headers: dict[str, str] | None = None) -> tuple[float, float]:
    """(p50 latency in ms, requests per second) of GET ``url`` with
    ``connections`` at once for ``seconds``; every answer must be 2xx."""
    out = subprocess.run(
        ['wrk', '-t', str(threads), '-c', str(connections),
         '-d', '%ds' % seconds, '--latency',
         # wrk's 2 s default drops slower answers from its figures
         '--timeout', '%ds' % max(60, 4 * seconds),
         *[arg for key, value in (headers or {}).items()
           for arg in ('-H', '%s: %s' % (key, value))], url],
        capture_output=True, text=True, check=True).stdout
    assert 'Non-2xx' not in out, out
    p50 = re.search(r'50%\s+([\d.]+)(us|ms|s)\b', out)
    rps = re.search(r'Requests/sec:\s+([\d.]+)', out)
    return float(p50.group(1)) * _UNITS[p50.group(2)], float(rps.group(1))
