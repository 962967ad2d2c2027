"""What the agent can call: models, generation, task families, verification."""
