"""The store port and its adapters (SQLite embedded default, Firestore production)."""
