"""Assistant (delegate) mode: prep for an executive's calendar, delivered to the assistant."""
