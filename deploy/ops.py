"""Admin operations against a deployment: re-seal credentials, forget a user.

They run from an admin's machine with Application Default Credentials, on the
same settings the functions use (built from deploy.env, secrets from the
environment), or locally on the embedded default when no deploy.env is given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from deploy.function_env import runtime_env
from deploy.inputs import DeployInputs
from deploy.readiness import SECRET_SETTINGS
from deploy.topology import Topology
from functions.bootstrap import Bootstrap
from functions.config import Settings
from functions.logs import log

_log = logging.getLogger(__name__)


def deployed_env(inputs: DeployInputs, process_env: Mapping[str, str]) -> dict[str, str]:
    """The functions' settings for this deployment; secrets only from `process_env`."""
    env = runtime_env(Topology(inputs))
    env.update({k: process_env[k] for k in SECRET_SETTINGS if process_env.get(k)})
    return env


def _close(services: Bootstrap) -> None:
    if "store" in vars(services):  # a cached_property: only close a store that was opened
        services.store.close()


def rewrap_credentials(settings: Settings) -> dict[str, Any]:
    """Re-seal every connected user's credentials under the primary (first) KEK."""
    from functions.oauth.sealing import Sealer, keyring_from_settings, rewrap_all

    keyring = keyring_from_settings(settings)  # before any client: a bad key stops here
    services = Bootstrap(settings)
    try:
        moved = rewrap_all(services.store, Sealer(keyring))
    finally:
        _close(services)
    log(_log, logging.INFO, "credentials rewrapped", records=moved, primary=keyring.primary)
    return {"rewrapped": moved, "primary_key_id": keyring.primary}


def delete_user(settings: Settings, user_id: str) -> dict[str, Any]:
    """What the sidebar's "Disconnect and delete my data" does, plus their materials.

    Revocation and channel stops are best effort (the grant may be long dead);
    the data is deleted whatever they answer.
    """
    from functions.oauth.flow import disconnect

    services = Bootstrap(settings)
    disconnected = True
    try:
        try:
            disconnect(services, user_id)
        except Exception as exc:  # deleting is what was asked for; it goes ahead
            disconnected = False
            log(_log, logging.WARNING, "disconnect failed", error=type(exc).__name__)
        records = services.store.delete_user_data(user_id)
        objects = services.materials_storage.delete_user(user_id)
    finally:
        _close(services)
    log(_log, logging.INFO, "user data deleted by admin", user_id=user_id, records=records)
    return {
        "user_id": user_id,
        "revoked_and_stopped": disconnected,
        "records_deleted": records,
        "materials_deleted": objects,
    }
