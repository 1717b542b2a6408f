"""The Google Chat app: the endpoint Chat calls when a user clicks a card button."""
