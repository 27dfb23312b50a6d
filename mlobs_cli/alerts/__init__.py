"""Alert-rule linting (`mlobs alerts validate`): pure logic over rule files, no rendering, no CLI."""
