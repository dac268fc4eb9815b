"""The real-time guard: sources -> events -> rules -> alerts -> responders."""
