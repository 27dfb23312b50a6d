"""Data drift between a reference and a current sample: pure logic, no rendering, no CLI."""
