"""The simulated market model: paths, instruments, futures, options, history, calendar, clock."""
