"""What each deployed function needs beyond what `load_settings` checks at start.

`load_settings` refuses a production process without its core settings, but a
few values are needed only by some functions (a secret the Chat endpoint never
touches should not be mounted there), so the code checks them where they are
used. This table says who uses what: the deploy plan mounts secrets from it,
and `check_environment` (the `check-config` command, and the plan itself before
any gcloud call) demands every value a function will need, so a missing one
fails the deploy instead of the first request that happens to need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from functions.config import Mode, Settings, SettingsError, load_settings

#: The functions-framework targets in main.py that are deployed, one Cloud Function each.
ENTRY_POINTS: tuple[str, ...] = ("addon", "tasks", "calendar_webhook", "oauth", "chat")
_ALL = frozenset(ENTRY_POINTS)

#: Settings checked on first use, with the entry points that use them.
ON_FIRST_USE: Mapping[str, frozenset[str]] = {
    # Every function queues work: the sidebar, Chat and the webhook enqueue too.
    "PREP_TASKS_LOCATION": _ALL,
    # Signed links to materials: the sidebar, the generation task, Chat's ready card, and
    # the stable links in messages (`/m` on the browser-facing `oauth` function).
    "PREP_MATERIALS_BUCKET": frozenset({"addon", "tasks", "chat", "oauth"}),
    # The consent flow (started in the sidebar, finished by `oauth`) and background refreshes.
    "PREP_OAUTH_WEB_CLIENT_ID": frozenset({"addon", "tasks", "oauth"}),
    "PREP_OAUTH_WEB_CLIENT_SECRET": frozenset({"addon", "tasks", "oauth"}),
    "PREP_TOKEN_KEK": frozenset({"addon", "tasks", "oauth"}),
    # Push channels: opened by sync tasks, verified by the webhook.
    "PREP_WEBHOOK_SECRET": frozenset({"tasks", "calendar_webhook"}),
}

#: The values that live in Secret Manager and are mounted with `--set-secrets`.
SECRET_SETTINGS: tuple[str, ...] = (
    "PREP_TOKEN_KEK",
    "PREP_OAUTH_WEB_CLIENT_SECRET",
    "PREP_WEBHOOK_SECRET",
)


def needs(entry_point: str) -> tuple[str, ...]:
    """The first-use settings `entry_point` needs, in table order."""
    if entry_point not in _ALL:
        raise ValueError(f"unknown entry point {entry_point!r}; one of {', '.join(ENTRY_POINTS)}")
    return tuple(name for name, users in ON_FIRST_USE.items() if entry_point in users)


def secrets_for(entry_point: str) -> tuple[str, ...]:
    return tuple(name for name in needs(entry_point) if name in SECRET_SETTINGS)


def check_environment(
    env: Mapping[str, str],
    entry_points: Iterable[str] = ENTRY_POINTS,
    *,
    provided_elsewhere: Iterable[str] = (),
) -> Settings:
    """`load_settings`, then (in production) every first-use value of `entry_points`.

    `provided_elsewhere` names values that will be there at run time without
    being in `env` (secrets mounted from Secret Manager). Raises SettingsError
    naming every missing variable.
    """
    settings = load_settings(env)
    if settings.mode is not Mode.PRODUCTION:
        return settings
    present = {name for name, value in env.items() if value.strip()} | set(provided_elsewhere)
    missing: dict[str, list[str]] = {}
    for entry_point in entry_points:
        for name in needs(entry_point):
            if name not in present:
                missing.setdefault(name, []).append(entry_point)
    if missing:
        described = "; ".join(
            f"{name} (needed by {', '.join(users)})" for name, users in missing.items()
        )
        raise SettingsError(f"missing in production: {described}")
    return settings
