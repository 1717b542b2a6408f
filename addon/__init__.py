"""The Calendar sidebar: HTTP Workspace add-on endpoints and card builders."""
