"""`python -m routeros_sim run-options...`: the simulator without Flask."""

from .cmdline import run_command

if __name__ == "__main__":
    run_command(prog_name="python -m routeros_sim")
