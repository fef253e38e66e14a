"""One doctor for both engines: checks of integrity, schema and the tamper evidence."""
