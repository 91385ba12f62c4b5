"""`syncd run`: watch every pair, feed changes to the engine, and report liveness."""
