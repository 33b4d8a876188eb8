"""genmcp's performance suite: one command (`python -m bench.run`), loopback simulators only, fixed
iteration counts. Each benchmark compares our server with a reference measured in the same run."""
