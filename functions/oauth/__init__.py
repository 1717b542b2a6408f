"""Offline access to a user's Google data: the consent flow and sealed credentials.

Background work (sync, prep notifications) runs when the user is not looking
at the sidebar, so it needs a refresh token of its own. This package obtains
one through the OAuth web-server flow, keeps it encrypted at rest, refreshes
access tokens from it, and notices when the grant is gone.
"""
