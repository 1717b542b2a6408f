"""The floor for the cold-start and memory benchmarks: a bare functions-framework function.

It imports nothing but functions-framework and answers a constant, so a
process started with `--target hello` on this file costs exactly what the
runtime itself costs; anything the real entry points cost beyond it is ours.
"""

from __future__ import annotations

import functions_framework
from flask import Request


@functions_framework.http
def hello(request: Request) -> str:
    return "hello"
