"""The policy as pure code: no SQL, no I/O, no clock. Everything else calls into it."""
