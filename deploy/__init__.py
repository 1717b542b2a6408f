"""Deployment to Google Cloud and Workspace, and the admin commands that run against it.

The deployment is a plan built as data (`plan.build_plan`): an ordered list of
steps, each a purpose and a gcloud argv. `--dry-run` prints it; `--apply` runs
it step by step and stops at the first failure. See docs/deployment.md.
"""
