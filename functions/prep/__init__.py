"""The prep workflow: queueing generation, notifying, delivering materials."""
