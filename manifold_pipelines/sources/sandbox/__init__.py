"""Running a user's JavaScript in a disposable child process with dukpy (QuickJS)."""
