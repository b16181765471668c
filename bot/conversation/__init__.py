"""What the bot's conversations stand on, outside Rasa: who is writing, what they agreed to, how their
answers are read, and the way to a person."""
