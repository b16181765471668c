"""Foundation: settings, the database and its models, the runtime object, the clock."""
