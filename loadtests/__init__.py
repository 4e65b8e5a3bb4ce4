"""Load tests for the emotion service: locustfile, runner, synthetic images (see README.md)."""
