"""The domain: meetings, users, classification and prep state. No cloud imports here."""
