"""Recent mail threads with a meeting's people: a context source for prep materials.

The port (`port`) and its adapters: Gmail through google-api-python-client
(`gmail`) in production, a small mailbox file (`local`) in the embedded
default. Only metadata and Gmail's own short snippet ever leave the mailbox:
never a message body.
"""
