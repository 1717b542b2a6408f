"""Who is calling: verification of Google-signed ID tokens, and local dev keys."""
