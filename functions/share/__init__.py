"""Sharing a meeting's agenda with its guests (a Drive document attached to the event)."""
