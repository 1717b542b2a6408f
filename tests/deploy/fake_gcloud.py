"""A stand-in for the `gcloud` executable: records argv, keeps resource state, fails on demand.

Installed as `gcloud` on PATH by the `fake_gcloud` fixture. It follows the
shapes the plan relies on: `describe` succeeds only for a resource that
exists, `create` of an existing resource fails with ALREADY_EXISTS, checks
print what the real commands print (project number, add-on authorization,
service URL, secret versions). `FAKE_GCLOUD_FAIL` makes any command whose
argv contains it fail; `FAKE_GCLOUD_FAIL_ONCE` fails only its first match.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

VERBS = {
    "add-iam-policy-binding",
    "add-invoker-policy-binding",
    "create",
    "deploy",
    "describe",
    "enable",
    "get-authorization",
    "install",
    "list",
    "replace",
    "update",
}


def main(args: list[str]) -> int:
    state_path = Path(os.environ["FAKE_GCLOUD_STATE"])
    state = (
        json.loads(state_path.read_text())
        if state_path.exists()
        else {"resources": [], "versions": [], "created": [], "failed_once": []}
    )
    with Path(os.environ["FAKE_GCLOUD_LOG"]).open("a") as log:
        log.write(json.dumps(["gcloud", *args]) + "\n")
    joined = " ".join(args)
    code = run(args, joined, state)
    state_path.write_text(json.dumps(state))
    return code


def run(args: list[str], joined: str, state: dict[str, list[str]]) -> int:
    fail = os.environ.get("FAKE_GCLOUD_FAIL")
    if fail and fail in joined:
        print(f"ERROR: (gcloud) PERMISSION_DENIED: simulated failure of {fail}", file=sys.stderr)
        return 1
    once = os.environ.get("FAKE_GCLOUD_FAIL_ONCE")
    if once and once in joined and once not in state["failed_once"]:
        state["failed_once"].append(once)
        print("ERROR: (gcloud) INVALID_ARGUMENT: Service account does not exist.", file=sys.stderr)
        return 1
    flags = {
        a[2:].partition("=")[0]: a.partition("=")[2]
        for a in args
        if a.startswith("--") and "=" in a
    }
    positional = [a for a in args if not a.startswith("--")]
    at = next(i for i, word in enumerate(positional) if word in VERBS)
    group, verb, rest = positional[:at], positional[at], positional[at + 1 :]
    if rest and rest[0] == "http":  # scheduler jobs create/update http JOB
        rest = rest[1:]
    if rest:
        name = rest[0].split("@")[0]
    elif group == ["firestore", "databases"]:
        name = flags["database"]
    else:  # a composite index is known by all of its flags
        name = "|".join(f"{k}={v}" for k, v in sorted(flags.items()))
    key = " ".join(group) + ":" + name
    resources = state["resources"]

    if group == ["projects"] and verb == "describe":
        print(os.environ["FAKE_PROJECT_NUMBER"])
    elif verb == "get-authorization":
        print(os.environ["FAKE_ADDON_AUTHORIZATION"])
    elif group == ["run", "services"] and verb == "describe":
        service = rest[0]
        print(f"https://{service}-{os.environ['FAKE_PROJECT_NUMBER']}.{flags['region']}.run.app")
    elif group == ["secrets", "versions"] and verb == "list":
        if rest[0] in state["versions"]:
            print(f"projects/x/secrets/{rest[0]}/versions/1")
    elif verb == "describe":
        if key not in resources:
            print(f"ERROR: (gcloud) NOT_FOUND: {name} was not found", file=sys.stderr)
            return 1
        print(f"name: {name}")
    elif verb == "create":
        if key in resources:
            print(f"ERROR: (gcloud) ALREADY_EXISTS: {name} already exists", file=sys.stderr)
            return 1
        resources.append(key)
        state["created"].append(key)
    elif verb == "deploy" and key not in resources:
        resources.append(key)
        state["created"].append(key)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
