"""The FastAPI web app: pages, webhooks, JSON API, health and metrics."""
