"""Complete, valid configurations that tests in several folders start from.

`PRODUCTION` is the smallest environment `load_settings` accepts in production
mode; `INPUTS` is a complete deploy.env (the optional values take their
defaults). Tests change one value at a time from these.
"""

from __future__ import annotations

from collections.abc import Mapping

PRODUCTION = {
    "PREP_MODE": "production",
    "GOOGLE_CLOUD_PROJECT": "p",
    "PREP_PUBLIC_URL": "https://prep.example.com",
    "PREP_ADDON_AUDIENCE": "https://prep.example.com/addon",
    "PREP_ADDON_SA_EMAIL": "service-1@gcp-sa-gsuiteaddons.iam.gserviceaccount.com",
    "PREP_OAUTH_CLIENT_ID": "1.apps.googleusercontent.com",
    "PREP_TASKS_AUDIENCE": "https://prep.example.com/tasks",
    "PREP_TASKS_SA_EMAIL": "tasks@p.iam.gserviceaccount.com",
    "PREP_CHAT_AUDIENCE": "https://prep.example.com/chat",
}

INPUTS: Mapping[str, str] = {
    "PROJECT_ID": "acme-prep",
    "PROJECT_NUMBER": "123456789012",
    "BUCKET": "acme-prep-materials",
    "ADDON_OAUTH_CLIENT_ID": "109876543210987654321",
    "OAUTH_WEB_CLIENT_ID": "1234-abcdef.apps.googleusercontent.com",
}
