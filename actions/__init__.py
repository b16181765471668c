"""rasa-sdk actions: thin adapters from the conversation to `bot` services. No work at import."""
